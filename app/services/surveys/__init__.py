"""Satisfaction surveys (issue 23, Qualiopi indicator 30), the answering side: the questions' text
format (questions.py), the ready-made models and settings (settings.py), the learners' invitations,
mails and reminders (invitations.py), one answer per learner (answer.py), the financers' yearly
survey (financers.py). The results are app/services/surveys/results.py's."""
