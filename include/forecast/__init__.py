"""Weekly sales forecast per store (model chosen by backtest), its day-part split and the labor forecast.

Pure functions on DataFrames live in ``weekly``, ``models``, ``selection``, ``split`` and
``labor``; ``pipeline`` reads and writes the warehouse. Nothing here imports pandas or
statsmodels at package import time.
"""

#: Fiscal weeks forecast after the last complete week.
HORIZON_WEEKS = 5
#: Weeks held out to score candidate models.
BACKTEST_WEEKS = 12
#: Sales day parts (the labor day parts differ: see ``labor``).
SALES_DAYPARTS = ("Lunch", "Afternoon", "Dinner", "Evening")
