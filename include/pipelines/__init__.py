"""One module per DAG: the steps its tasks call (extract, transform + load, forecast, publish)."""
