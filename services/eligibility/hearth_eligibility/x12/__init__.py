"""X12 EDI: 834 enrolment files in, 270 eligibility inquiries answered with 271s."""
