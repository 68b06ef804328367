import dagster as dg

# One partition per tuning config name; the `tuning_configs` asset and its sensor add them.
tuning_config_partitions = dg.DynamicPartitionsDefinition(name="tuning_configs")
