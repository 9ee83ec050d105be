"""Retention of personal data (issue 25): the periods (``settings``), the daily job (``job``) and the
« Registre des traitements » built from them (``register``)."""
