"""A questionnaire's questions: the editor's plain-text format, its JSON, and reading an answer.

The text format (consistent with the quiz editor's): one question per block, blank line between;
first line the question, second line its type in brackets — ``[échelle 1-5]``, ``[échelle 1-10]``,
``[choix unique]``, ``[choix multiple]``, ``[texte libre]`` — optionally followed by
``[facultatif]``; then, for a choice, one choice per line starting with "- ".

JSON (the activity's ``quiz`` column, FinancerSurvey.questions): a list of
``{"text", "type": scale5|scale10|single|multiple|text, "required": bool, "choices": [str]}``.
Answers (SurveyResponse.answers): by question index as a string; scale → int, single → int (choice
index), multiple → sorted distinct list of indexes, text → str (stripped, ≤ 5,000 characters); an
optional question left unanswered is absent; a text loses its control characters (tab and line
break kept).

Size: at most 60 questions, 20 choices a question, 800 questions and choices in all, so the answering
form stays under the app's cap on a form's fields (FORM_MAX_FIELDS, 1,000). Once answers exist they
are read by index: ``structure_kept`` says whether an edit only rewords the questions (session_content
refuses any other edit of a questionnaire with invitations or answers, or of an assessment quiz with
attempts).
"""

from __future__ import annotations

import json
import re
import unicodedata

from app.services.errors import ValidationFailed
from app.services.text import BIDI_CONTROLS

TYPE_LABELS = {"scale5": "échelle 1-5", "scale10": "échelle 1-10", "single": "choix unique",
               "multiple": "choix multiple", "text": "texte libre"}
SCALES = {"scale5": 5, "scale10": 10}
OPTIONAL = "facultatif"
TEXT_MAX = 5000
QUESTION_MAX = 500
QUESTIONS_MAX = 60
CHOICES_MAX = 20
# The answering form must stay under the app's cap on a form's fields (FORM_MAX_FIELDS,
# app/http/security.py: 1,000): a multiple choice posts one field per box ticked. Questions plus
# choices at most 800 leaves room for the CSRF field and a margin.
FIELDS_MAX = 800
FORMAT_HELP = ("Une question par bloc (une ligne vide entre deux questions) : la question sur la première ligne ; "
               "sur la deuxième, son type entre crochets — [échelle 1-5], [échelle 1-10], [choix unique], "
               "[choix multiple] ou [texte libre] —, suivi de [facultatif] si la réponse n'est pas obligatoire ; "
               "puis, pour un choix, une réponse possible par ligne commençant par « - ».")


def _fold(text: str) -> str:
    """Lower case, accents and inner spaces folded: « [Échelle 1 - 5] » reads as « echelle 1-5 »."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()
    return re.sub(r"\s*-\s*", "-", re.sub(r"\s+", " ", plain)).strip()


_TYPES = {_fold(label): kind for kind, label in TYPE_LABELS.items()}
_TYPES.update({"echelle": "scale5", "note 1-5": "scale5", "note 1-10": "scale10", "texte": "text",
               "choix": "single", "choix multiples": "multiple"})
_TAG = re.compile(r"\[([^\]]*)\]")


def _type_line(line: str) -> tuple[str | None, bool, bool]:
    """(type, required, is a type line) of a line made of bracketed tags only."""
    tags = _TAG.findall(line)
    if not tags or _TAG.sub("", line).strip():
        return None, True, False
    kind, required = None, True
    for tag in tags:
        folded = _fold(tag)
        if folded in (OPTIONAL, "optionnel", "facultative", "optionnelle"):
            required = False
        elif folded in ("obligatoire", "requis"):
            required = True
        elif folded in _TYPES:
            kind = _TYPES[folded]
        else:
            return None, required, True
    return kind, required, True


def parse_survey_text(text: str) -> list[dict]:
    """The questions of the editor's text, or ValidationFailed({"survey": …}) naming each question
    at fault by its number."""
    questions, errors = [], []
    blocks = [b for b in re.split(r"\n\s*\n", (text or "").replace("\r\n", "\n").replace("\r", "\n")) if b.strip()]
    if len(blocks) > QUESTIONS_MAX:
        raise ValidationFailed({"survey": f"Un questionnaire compte au plus {QUESTIONS_MAX} questions."})
    for n, block in enumerate(blocks, start=1):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        question = lines[0]
        if len(question) > QUESTION_MAX:
            errors.append(f"Question {n} : l'intitulé dépasse {QUESTION_MAX} caractères.")
        if len(lines) < 2:
            errors.append(f"Question {n} : indiquez son type sur la deuxième ligne, entre crochets "
                          "(par exemple [échelle 1-5] ou [texte libre]).")
            continue
        kind, required, is_tags = _type_line(lines[1])
        if kind is None:
            errors.append(f"Question {n} : type « {lines[1][:60]} » inconnu ; écrivez [échelle 1-5], [échelle 1-10], "
                          "[choix unique], [choix multiple] ou [texte libre]." if is_tags else
                          f"Question {n} : la deuxième ligne doit donner son type entre crochets "
                          "(par exemple [échelle 1-5] ou [texte libre]).")
            continue
        choices = []
        for line in lines[2:]:
            if line.startswith("-") and line[1:].strip():
                choices.append(line[1:].strip()[:QUESTION_MAX])
            else:
                errors.append(f"Question {n} : chaque réponse possible est sur sa ligne et commence par « - ».")
                break
        if kind in ("single", "multiple"):
            if len(choices) < 2:
                errors.append(f"Question {n} : un choix demande au moins deux réponses possibles (« - » devant chacune).")
            elif len(choices) > CHOICES_MAX:
                errors.append(f"Question {n} : au plus {CHOICES_MAX} réponses possibles.")
            elif len(set(choices)) != len(choices):
                errors.append(f"Question {n} : deux réponses possibles sont identiques.")
        elif choices:
            errors.append(f"Question {n} : une question « {TYPE_LABELS[kind]} » n'a pas de réponses possibles à lister.")
        questions.append({"text": question, "type": kind, "required": required,
                          "choices": choices if kind in ("single", "multiple") else []})
    size = len(questions) + sum(len(q["choices"]) for q in questions)
    if not errors and size > FIELDS_MAX:
        errors.append(f"Ce questionnaire est trop long pour être rempli en une fois : {size} questions et réponses "
                      f"possibles au total, {FIELDS_MAX} au plus. Réduisez le nombre de questions ou de choix.")
    if errors:
        raise ValidationFailed({"survey": " ".join(dict.fromkeys(errors))})
    return questions


STRUCTURE_KEPT = ("Ce questionnaire a déjà des réponses : vous pouvez corriger le libellé des questions, pas leur "
                  "nombre, leur ordre, leur type ni leurs choix. Retirez-le et créez-en un nouveau pour changer sa "
                  "structure.")
QUIZ_STRUCTURE_KEPT = ("Ce test d'évaluation a déjà des tentatives : vous pouvez corriger le libellé des questions et "
                       "des réponses, pas leur nombre, leur ordre, les bonnes réponses ni les objectifs rattachés. "
                       "Retirez-le et créez-en un nouveau pour changer sa structure.")


def structure(kind: str, questions: list[dict]) -> list[tuple]:
    """What stored answers depend on, question by question, wordings left out. Answers are kept by
    question index (and a choice by its index): a questionnaire's type and number of choices; a
    quiz's choices' rightness and objective tag (its results are recomputed from the stored answers
    against the current questions)."""
    if kind == "survey":
        return [(q.get("type"), len(q.get("choices") or [])) for q in questions]
    return [(tuple(bool(c.get("correct")) for c in q.get("choices") or []), q.get("objective"))
            for q in questions]


def structure_kept(kind: str, before: list[dict], after: list[dict]) -> bool:
    """Whether ``after`` only rewords ``before`` (same count, order, types or rightness, choices)."""
    return structure(kind, before) == structure(kind, after)


def survey_text(questions: list[dict]) -> str:
    """The questions back in the editor's text (parse_survey_text(survey_text(q)) == q)."""
    blocks = []
    for q in questions:
        tags = f"[{TYPE_LABELS[q['type']]}]" + ("" if q.get("required", True) else f" [{OPTIONAL}]")
        blocks.append("\n".join([q["text"], tags] + [f"- {c}" for c in q.get("choices") or []]))
    return "\n\n".join(blocks)


def load_questions(raw: str) -> list[dict]:
    """The stored questions (JSON), tolerant of a missing or broken value (no questions then)."""
    try:
        questions = json.loads(raw) if raw else []
    except ValueError:
        return []
    if not isinstance(questions, list):
        return []
    return [q for q in questions if isinstance(q, dict) and q.get("type") in TYPE_LABELS]


def dump_questions(questions: list[dict]) -> str:
    return json.dumps(questions, ensure_ascii=False) if questions else ""


_INDEX = re.compile(r"[0-9]{1,3}")
# Control characters of a free text, removed before it is stored: every C0/C1 control and DEL but
# the tab and the line break (line breaks of every kind are first made "\n").
_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x85\u2028\u2029]")
_CONTROLS = re.compile(f"[\x00-\x08\x0e-\x1f\x7f-\x9f{BIDI_CONTROLS}]")


def clean_text(value: str) -> str:
    """A free-text answer without control characters (NUL, ESC…): tabs and line breaks kept, the
    line breaks as "\n". app/services/text.py's ``fold_controls`` turns them into spaces and tabs
    too, which an answer keeps."""
    return _CONTROLS.sub("", _BREAKS.sub("\n", value))


def read_answers(questions: list[dict], form: dict[str, list[str]]) -> dict[str, object]:
    """The answers posted (``form``: field name → its values; a question's field is ``q<index>``),
    checked against the questions: ValidationFailed with a French message per question at fault
    (key ``q<index>``) — a required question unanswered, a scale out of range, a choice that is not
    one, a text too long. The answers in the stored shape otherwise."""
    answers: dict[str, object] = {}
    errors: dict[str, str] = {}
    for i, q in enumerate(questions):
        n, key = i + 1, f"q{i}"
        values = [v for v in form.get(key, []) if isinstance(v, str)]
        if q["type"] == "text":
            value = clean_text("\n".join(values)).strip()
            if len(value) > TEXT_MAX:
                errors[key] = f"Question {n} : votre réponse dépasse {TEXT_MAX:,} caractères ; raccourcissez-la.".replace(",", " ")
            elif value:
                answers[str(i)] = value
            elif q.get("required", True):
                errors[key] = f"Question {n} : une réponse est obligatoire."
            continue
        picked = [v for v in values if v != ""]  # a forged value with spaces or a line break is refused
        if any(not _INDEX.fullmatch(v) for v in picked):
            errors[key] = f"Question {n} : réponse non reconnue ; choisissez parmi les réponses proposées."
            continue
        numbers = [int(v) for v in picked]
        if not numbers:
            if q.get("required", True):
                errors[key] = f"Question {n} : une réponse est obligatoire."
            continue
        if q["type"] in SCALES:
            top = SCALES[q["type"]]
            if len(numbers) > 1 or not 1 <= numbers[0] <= top:
                errors[key] = f"Question {n} : choisissez une note de 1 à {top}."
            else:
                answers[str(i)] = numbers[0]
            continue
        if any(not 0 <= c < len(q["choices"]) for c in numbers):
            errors[key] = f"Question {n} : réponse non reconnue ; choisissez parmi les réponses proposées."
        elif q["type"] == "single":
            if len(set(numbers)) > 1:
                errors[key] = f"Question {n} : une seule réponse est possible."
            else:
                answers[str(i)] = numbers[0]
        else:
            answers[str(i)] = sorted(set(numbers))
    if errors:
        raise ValidationFailed(errors, "Certaines réponses sont à compléter ou à corriger : rien n'a été enregistré.")
    return answers
