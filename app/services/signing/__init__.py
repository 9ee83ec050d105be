"""Electronic attendance (émargement, issue 22): signing windows, rotating QR tokens, learners'
signatures, the trainer's marks and countersignature, the frozen records and their corrections.

Where: ``window.py`` when a slot is open, the QR tokens, the pass of a scan (bound to the device that
scanned), the client hash; ``pad.py`` a drawn signature decoded whole and stored as a normalised
grey PNG, and its hash; ``common.py`` the status and method labels, the snapshot's canonical hash
and a slot's closure; ``learner.py`` what a learner may sign and the signature; ``trainer.py`` the
trainer's live list and marks; ``closing.py`` the countersigned closing and its snapshot;
``review.py`` closures and corrections on the manager's grid; ``sheet.py`` the signed sheet (PDF) of
a closed slot, ``sheet_read.py`` its download and verification. Every write goes through ``app.services.attendance``.
"""
