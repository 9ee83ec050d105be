"""The Bilan pédagogique et financier (BPF, Cerfa 10443: frames E, F-1 to F-4, G) and the élus' yearly
report (CGCT R1221-22-1), computed from the hours actually attended (issue 23, SPEC X3).

- ``labels``: the Cerfa wording of every choice (objectives, trainee types, delivery, trainer status).
- ``compute``: the figures of a year, by polars, from one query per kind of fact.
- ``reports``: the YearReport rows (one per kind and year), the learners behind a figure, the
  completeness check, the Excel files.

Derivations (DESIGN23): the trainee type of an enrolment is its own ``trainee_type`` if set; else
public_agent when the account has an establishment or an agent's status (fph/fpt/fpe, contract);
else elected when the status says so or one of its registration sources carries a mandate; else
apprentice by status; else missing. A trainer is internal or external by ``User.trainer_status``,
else internal when the account has an establishment.
"""
