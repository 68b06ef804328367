-- The newest version of each edition. A changed file is loaded as a new version next to the
-- old one (whose rows splits, translations and scores may reference); code that wants "the
-- data as it is now" reads these views.
create view llm.current_dataset_editions as
select distinct on (name) *
from llm.dataset_editions
order by name, version desc;

create view llm.current_dataset as
select d.*
from llm.dataset d
join llm.current_dataset_editions e on e.id = d.edition_id;
