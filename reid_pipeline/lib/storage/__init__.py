"""Where tables live: Parquet partitions under the data root, LanceDB tables, and the Arrow schemas of both."""
