"""Pure transforms: raw source rows in, clean target rows and rejected rows (with reasons) out.

No Airflow and no database here; pandas is imported inside the functions that need it.
"""
