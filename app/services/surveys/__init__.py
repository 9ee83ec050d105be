"""Satisfaction surveys (issue 23, Qualiopi indicator 30): questions, invitations, answers, results."""
