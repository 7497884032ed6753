"""Recording quality review (issue 16, T10): review forms (forms.py), the one score rule
(scoring.py), reviews, comments, acknowledgement and disputes (reviews.py), the recording
library's search (library.py), the weekly sample (sampling.py), training examples
(examples.py), talk figures (talk.py) and the quality reports (reports.py)."""
