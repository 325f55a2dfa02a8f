"""The lake: Parquet tables per day (local folder or S3 + Glue), their schema, atomic day switches and locks."""
