# Django's Arabic formats lack the date-times: they would fall back to the American order
# (12/07/2026 for 7 December). Day first, 24-hour clock, as the English pages.
DATETIME_FORMAT = "j F Y، H:i"
SHORT_DATETIME_FORMAT = "d\u200f/m\u200f/Y H:i"
TIME_FORMAT = "H:i"
FIRST_DAY_OF_WEEK = 6  # Saturday
