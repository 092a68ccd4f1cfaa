# Dates a reader anywhere takes the same way: the day, the month in words, the year ("7 Feb
# 2026"), never 02/07/2026, which an American reads as 7 February and everyone else as 2 July.
# Times on the 24-hour clock, as the crossing's schedules are written.
DATE_FORMAT = "j F Y"
SHORT_DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j F Y, H:i"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"]
DATETIME_INPUT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
FIRST_DAY_OF_WEEK = 6  # Saturday, as the week runs in Gaza and Egypt
