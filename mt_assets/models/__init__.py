"""Models, shared by training, translation and the launchers: where a model comes from (sources),
what kind it is (kind, from its config.json), how it loads (loading), how an artefact is hashed
(artefacts), the language codes a model takes (codes) and the JSONL rows it reads (jsonl).
Nothing here imports training/, translation/ or remote/; torch and transformers load only where a
function needs them (loading.py imports them at module level and is for the processes that train
or translate)."""
