"""Electronic attendance (émargement, issue 22): signing windows, rotating QR tokens, learners'
signatures, the trainer's marks and countersignature, the frozen records and their corrections."""
