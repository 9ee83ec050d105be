"""Electronic attendance (émargement, issue 22): signing windows, rotating QR tokens, learners'
signatures, the trainer's marks and countersignature, the frozen records and their corrections.

Where: ``window.py`` when a slot is open, the QR tokens, the pass of a scan, the client hash;
``pad.py`` a drawn signature checked (PNG) and its hash; ``learner.py`` what a learner may sign and
the signature; ``trainer.py`` the trainer's live list and marks; ``closing.py`` the countersigned
closing and its snapshot; ``review.py`` closures and corrections on the manager's grid; ``sheet.py``
the signed sheet (PDF) of a closed slot. Every write goes through ``app.services.attendance``.
"""
