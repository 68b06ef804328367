"""Raw parallel files into PostgreSQL: manifest, streaming readers, normalisation, row rules
and the COPY loader. Usable without Dagster."""
