-- The llm schema as the migrations in this directory build it, in one file to read.
-- Generated: python -m mt_assets.db.schema > sql/schema.sql  (do not edit; add a migration)

--
-- PostgreSQL database dump
--

SET check_function_bodies = false;

--
-- Name: llm; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA llm;

--
-- Name: split_sha256(integer); Type: FUNCTION; Schema: llm; Owner: -
--

CREATE FUNCTION llm.split_sha256(config_id integer) RETURNS text
    LANGUAGE sql STABLE
    AS $$
    select encode(sha256(convert_to(
               string_agg(dataset_record_id::text || E'\t' || split, E'\n' order by dataset_record_id),
               'UTF8')), 'hex')
      from llm.tuning_dataset_distribution
     where tuning_config_id = config_id and split in ('train', 'validation')
$$;

--
-- Name: FUNCTION split_sha256(config_id integer); Type: COMMENT; Schema: llm; Owner: -
--

COMMENT ON FUNCTION llm.split_sha256(config_id integer) IS 'sha256 of the config''s train/validation (dataset_record_id, split) pairs; compared with fine_tuned_models.split_sha256';

--
-- Name: dataset; Type: TABLE; Schema: llm; Owner: -
--

CREATE TABLE llm.dataset (
    id bigint NOT NULL,
    edition_id integer NOT NULL,
    source_text text NOT NULL,
    source_paragraph integer,
    source_reference text,
    official_translate text NOT NULL,
    source_language text NOT NULL,
    is_enable boolean DEFAULT true CONSTRAINT dataset_enabled_not_null NOT NULL,
    target_language text DEFAULT 'en'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: dataset_editions; Type: TABLE; Schema: llm; Owner: -
--

CREATE TABLE llm.dataset_editions (
    id integer NOT NULL,
    name text NOT NULL,
    description text,
    link text,
    source_language text,
    version integer DEFAULT 1 NOT NULL,
    target_language text DEFAULT 'en'::text NOT NULL,
    source_file text,
    file_sha256 text,
    options jsonb DEFAULT '{}'::jsonb NOT NULL,
    rows_read integer,
    rows_loaded integer,
    rows_rejected integer,
    loaded_at timestamp with time zone DEFAULT now() NOT NULL,
    options_sha256 text,
    CONSTRAINT dataset_editions_version_check CHECK ((version >= 1))
);

--
-- Name: current_dataset_editions; Type: VIEW; Schema: llm; Owner: -
--

CREATE VIEW llm.current_dataset_editions AS
 SELECT DISTINCT ON (name) id,
    name,
    description,
    link,
    source_language,
    version,
    target_language,
    source_file,
    file_sha256,
    options,
    rows_read,
    rows_loaded,
    rows_rejected,
    loaded_at,
    options_sha256
   FROM llm.dataset_editions e
  WHERE (EXISTS ( SELECT 1
           FROM llm.dataset d
          WHERE (d.edition_id = e.id)))
  ORDER BY name, version DESC;

--
-- Name: current_dataset; Type: VIEW; Schema: llm; Owner: -
--

CREATE VIEW llm.current_dataset AS
 SELECT d.id,
    d.edition_id,
    d.source_text,
    d.source_paragraph,
    d.source_reference,
    d.official_translate,
    d.source_language,
    d.is_enable,
    d.target_language,
    d.created_at
   FROM (llm.dataset d
     JOIN llm.current_dataset_editions e ON ((e.id = d.edition_id)));

--
-- Name: dataset_editions_id_seq; Type: SEQUENCE; Schema: llm; Owner: -
--

CREATE SEQUENCE llm.dataset_editions_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: dataset_editions_id_seq; Type: SEQUENCE OWNED BY; Schema: llm; Owner: -
--

ALTER SEQUENCE llm.dataset_editions_id_seq OWNED BY llm.dataset_editions.id;

--
-- Name: dataset_id_seq; Type: SEQUENCE; Schema: llm; Owner: -
--

CREATE SEQUENCE llm.dataset_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: dataset_id_seq; Type: SEQUENCE OWNED BY; Schema: llm; Owner: -
--

ALTER SEQUENCE llm.dataset_id_seq OWNED BY llm.dataset.id;

--
-- Name: evaluation; Type: TABLE; Schema: llm; Owner: -
--

CREATE TABLE llm.evaluation (
    id bigint NOT NULL,
    translation_method_id integer NOT NULL,
    translation_execution_id integer NOT NULL,
    scope text NOT NULL,
    scope_value text DEFAULT ''::text NOT NULL,
    metric text NOT NULL,
    score double precision NOT NULL,
    signature text NOT NULL,
    segments integer NOT NULL,
    p_value double precision,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    control_score double precision,
    control_sd double precision,
    control_seeds integer,
    meaning_margin double precision,
    meaning_gain double precision,
    meaning_gain_p double precision,
    p_value_holm double precision,
    flags text[] DEFAULT '{}'::text[] NOT NULL,
    CONSTRAINT evaluation_control_seeds_check CHECK ((control_seeds > 0)),
    CONSTRAINT evaluation_meaning_gain_p_check CHECK (((meaning_gain_p >= (0)::double precision) AND (meaning_gain_p <= (1)::double precision))),
    CONSTRAINT evaluation_metric_check CHECK ((metric = ANY (ARRAY['bleu'::text, 'chrf++'::text, 'ter'::text, 'comet'::text, 'meteor'::text]))),
    CONSTRAINT evaluation_p_value_holm_check CHECK (((p_value_holm >= (0)::double precision) AND (p_value_holm <= (1)::double precision))),
    CONSTRAINT evaluation_scope_check CHECK ((scope = ANY (ARRAY['all'::text, 'language'::text, 'edition'::text]))),
    CONSTRAINT evaluation_segments_check CHECK ((segments > 0))
);

--
-- Name: evaluation_id_seq; Type: SEQUENCE; Schema: llm; Owner: -
--

CREATE SEQUENCE llm.evaluation_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: evaluation_id_seq; Type: SEQUENCE OWNED BY; Schema: llm; Owner: -
--

ALTER SEQUENCE llm.evaluation_id_seq OWNED BY llm.evaluation.id;

--
-- Name: fine_tuned_models; Type: TABLE; Schema: llm; Owner: -
--

CREATE TABLE llm.fine_tuned_models (
    id integer NOT NULL,
    tuning_config_id integer NOT NULL,
    pretrained_model_dir_path text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    status text DEFAULT 'running'::text NOT NULL,
    config_sha256 text,
    llm_model text,
    tuning_methodology text,
    artefact_sha256 text,
    metrics jsonb DEFAULT '{}'::jsonb NOT NULL,
    library_versions jsonb DEFAULT '{}'::jsonb NOT NULL,
    dagster_run_id text,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    finished_at timestamp with time zone,
    duration_seconds double precision,
    error text,
    model_sha256 text,
    split_sha256 text,
    environment jsonb DEFAULT '{}'::jsonb NOT NULL,
    replicate smallint DEFAULT 1 NOT NULL,
    seed integer,
    CONSTRAINT fine_tuned_models_replicate_check CHECK ((replicate >= 1)),
    CONSTRAINT fine_tuned_models_status_check CHECK ((status = ANY (ARRAY['running'::text, 'succeeded'::text, 'failed'::text])))
);

--
-- Name: fine_tuned_models_id_seq; Type: SEQUENCE; Schema: llm; Owner: -
--

CREATE SEQUENCE llm.fine_tuned_models_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: fine_tuned_models_id_seq; Type: SEQUENCE OWNED BY; Schema: llm; Owner: -
--

ALTER SEQUENCE llm.fine_tuned_models_id_seq OWNED BY llm.fine_tuned_models.id;

--
-- Name: rejected_rows; Type: TABLE; Schema: llm; Owner: -
--

CREATE TABLE llm.rejected_rows (
    id bigint NOT NULL,
    edition_id integer,
    source_file text NOT NULL,
    file_sha256 text NOT NULL,
    line_number integer,
    raw_content text,
    reason text NOT NULL,
    rejected_at timestamp with time zone DEFAULT now() NOT NULL,
    system_file_id integer,
    CONSTRAINT rejected_rows_one_owner CHECK (((edition_id IS NULL) OR (system_file_id IS NULL)))
);

--
-- Name: rejected_rows_id_seq; Type: SEQUENCE; Schema: llm; Owner: -
--

CREATE SEQUENCE llm.rejected_rows_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: rejected_rows_id_seq; Type: SEQUENCE OWNED BY; Schema: llm; Owner: -
--

ALTER SEQUENCE llm.rejected_rows_id_seq OWNED BY llm.rejected_rows.id;

--
-- Name: schema_migrations; Type: TABLE; Schema: llm; Owner: -
--

CREATE TABLE llm.schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    sha256 text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: system_file; Type: TABLE; Schema: llm; Owner: -
--

CREATE TABLE llm.system_file (
    id integer NOT NULL,
    name text NOT NULL,
    source_file text NOT NULL,
    file_sha256 text NOT NULL,
    format text NOT NULL,
    edition_ids integer[] DEFAULT '{}'::integer[] NOT NULL,
    rows_read integer NOT NULL,
    rows_loaded integer NOT NULL,
    rows_rejected integer NOT NULL,
    loaded_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT system_file_check CHECK ((rows_read = (rows_loaded + rows_rejected))),
    CONSTRAINT system_file_format_check CHECK ((format = ANY (ARRAY['tsv'::text, 'csv'::text, 'jsonl'::text]))),
    CONSTRAINT system_file_name_check CHECK (((name ~ '^[a-z0-9][a-z0-9-]*$'::text) AND (length(name) <= 63))),
    CONSTRAINT system_file_rows_loaded_check CHECK ((rows_loaded >= 0)),
    CONSTRAINT system_file_rows_read_check CHECK ((rows_read >= 0)),
    CONSTRAINT system_file_rows_rejected_check CHECK ((rows_rejected >= 0))
);

--
-- Name: TABLE system_file; Type: COMMENT; Schema: llm; Owner: -
--

COMMENT ON TABLE llm.system_file IS 'external systems: the file loaded as translation method system:NAME (mt_assets.translation.systems)';

--
-- Name: system_file_id_seq; Type: SEQUENCE; Schema: llm; Owner: -
--

CREATE SEQUENCE llm.system_file_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: system_file_id_seq; Type: SEQUENCE OWNED BY; Schema: llm; Owner: -
--

ALTER SEQUENCE llm.system_file_id_seq OWNED BY llm.system_file.id;

--
-- Name: system_output; Type: TABLE; Schema: llm; Owner: -
--

CREATE TABLE llm.system_output (
    id bigint NOT NULL,
    system_file_id integer NOT NULL,
    dataset_id bigint NOT NULL,
    line_number integer NOT NULL,
    translated_text text NOT NULL,
    sanitized text,
    CONSTRAINT system_output_line_number_check CHECK ((line_number >= 1))
);

--
-- Name: system_output_id_seq; Type: SEQUENCE; Schema: llm; Owner: -
--

CREATE SEQUENCE llm.system_output_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: system_output_id_seq; Type: SEQUENCE OWNED BY; Schema: llm; Owner: -
--

ALTER SEQUENCE llm.system_output_id_seq OWNED BY llm.system_output.id;

--
-- Name: training_logs; Type: TABLE; Schema: llm; Owner: -
--

CREATE TABLE llm.training_logs (
    id bigint NOT NULL,
    fine_tuned_model_id integer NOT NULL,
    step integer NOT NULL,
    epoch double precision,
    logs jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: training_logs_id_seq; Type: SEQUENCE; Schema: llm; Owner: -
--

CREATE SEQUENCE llm.training_logs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: training_logs_id_seq; Type: SEQUENCE OWNED BY; Schema: llm; Owner: -
--

ALTER SEQUENCE llm.training_logs_id_seq OWNED BY llm.training_logs.id;

--
-- Name: translation; Type: TABLE; Schema: llm; Owner: -
--

CREATE TABLE llm.translation (
    id bigint NOT NULL,
    translation_method_id integer NOT NULL,
    tuning_dataset_distribution_id bigint NOT NULL,
    translation_execution_id integer,
    translated_text text NOT NULL,
    latency_ms double precision,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    chrf_plus_plus double precision,
    sanitized text,
    match_score double precision,
    CONSTRAINT translation_chrf_plus_plus_check CHECK (((chrf_plus_plus >= (0)::double precision) AND (chrf_plus_plus <= (100)::double precision))),
    CONSTRAINT translation_match_score_check CHECK (((match_score >= (0)::double precision) AND (match_score <= (100)::double precision)))
);

--
-- Name: COLUMN translation.chrf_plus_plus; Type: COMMENT; Schema: llm; Owner: -
--

COMMENT ON COLUMN llm.translation.chrf_plus_plus IS 'sentence-level chrF++ (sacrebleu CHRF(word_order=2).sentence_score) against the reference, 0-100';

--
-- Name: COLUMN translation.sanitized; Type: COMMENT; Schema: llm; Owner: -
--

COMMENT ON COLUMN llm.translation.sanitized IS 'null: stored as generated; else what mt_assets.translation.sanitize changed, e.g. "removed U+0000 x1"';

--
-- Name: COLUMN translation.match_score; Type: COMMENT; Schema: llm; Owner: -
--

COMMENT ON COLUMN llm.translation.match_score IS 'baseline:translation-memory only: fuzzy-match score (0-100) of the train source whose reference was output';

--
-- Name: translation_execution; Type: TABLE; Schema: llm; Owner: -
--

CREATE TABLE llm.translation_execution (
    id integer NOT NULL,
    name text NOT NULL,
    description text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    tuning_config_id integer
);

--
-- Name: translation_execution_id_seq; Type: SEQUENCE; Schema: llm; Owner: -
--

CREATE SEQUENCE llm.translation_execution_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: translation_execution_id_seq; Type: SEQUENCE OWNED BY; Schema: llm; Owner: -
--

ALTER SEQUENCE llm.translation_execution_id_seq OWNED BY llm.translation_execution.id;

--
-- Name: translation_execution_models; Type: TABLE; Schema: llm; Owner: -
--

CREATE TABLE llm.translation_execution_models (
    id integer NOT NULL,
    translation_execution_id integer NOT NULL,
    translation_method_id integer NOT NULL
);

--
-- Name: translation_execution_models_id_seq; Type: SEQUENCE; Schema: llm; Owner: -
--

CREATE SEQUENCE llm.translation_execution_models_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: translation_execution_models_id_seq; Type: SEQUENCE OWNED BY; Schema: llm; Owner: -
--

ALTER SEQUENCE llm.translation_execution_models_id_seq OWNED BY llm.translation_execution_models.id;

--
-- Name: translation_id_seq; Type: SEQUENCE; Schema: llm; Owner: -
--

CREATE SEQUENCE llm.translation_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: translation_id_seq; Type: SEQUENCE OWNED BY; Schema: llm; Owner: -
--

ALTER SEQUENCE llm.translation_id_seq OWNED BY llm.translation.id;

--
-- Name: translation_method; Type: TABLE; Schema: llm; Owner: -
--

CREATE TABLE llm.translation_method (
    id integer NOT NULL,
    name text NOT NULL,
    description text,
    llm_model text,
    fine_tuned_models_id integer,
    tuning_config_id integer,
    kind text DEFAULT 'base'::text NOT NULL,
    generation_config jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    "precision" text,
    CONSTRAINT translation_method_kind_check CHECK ((kind = ANY (ARRAY['base'::text, 'fine_tuned'::text, 'baseline'::text, 'system'::text]))),
    CONSTRAINT translation_method_precision_check CHECK (("precision" = ANY (ARRAY['fp32'::text, 'bf16'::text, 'fp16'::text])))
);

--
-- Name: translation_method_id_seq; Type: SEQUENCE; Schema: llm; Owner: -
--

CREATE SEQUENCE llm.translation_method_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: translation_method_id_seq; Type: SEQUENCE OWNED BY; Schema: llm; Owner: -
--

ALTER SEQUENCE llm.translation_method_id_seq OWNED BY llm.translation_method.id;

--
-- Name: tuning_configs; Type: TABLE; Schema: llm; Owner: -
--

CREATE TABLE llm.tuning_configs (
    id integer NOT NULL,
    name text NOT NULL,
    description text,
    llm_model text NOT NULL,
    tuning_methodology text NOT NULL,
    training_prompt_template text,
    llm_tuning_configs jsonb DEFAULT '{}'::jsonb NOT NULL,
    config_sha256 text,
    data jsonb DEFAULT '{}'::jsonb NOT NULL,
    source_file text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    model_sha256 text,
    generation_sha256 text,
    libraries_checked jsonb,
    replicates smallint DEFAULT 1 NOT NULL,
    CONSTRAINT tuning_configs_methodology_check CHECK ((tuning_methodology = ANY (ARRAY['lora'::text, 'qlora'::text, 'full'::text]))),
    CONSTRAINT tuning_configs_name_check CHECK ((name ~ '^[a-z0-9][a-z0-9-]*$'::text)),
    CONSTRAINT tuning_configs_replicates_check CHECK ((replicates >= 1))
);

--
-- Name: COLUMN tuning_configs.libraries_checked; Type: COMMENT; Schema: llm; Owner: -
--

COMMENT ON COLUMN llm.tuning_configs.libraries_checked IS 'what the config passed the library check against (package versions); null: checked on every read';

--
-- Name: tuning_configs_id_seq; Type: SEQUENCE; Schema: llm; Owner: -
--

CREATE SEQUENCE llm.tuning_configs_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: tuning_configs_id_seq; Type: SEQUENCE OWNED BY; Schema: llm; Owner: -
--

ALTER SEQUENCE llm.tuning_configs_id_seq OWNED BY llm.tuning_configs.id;

--
-- Name: tuning_dataset_distribution; Type: TABLE; Schema: llm; Owner: -
--

CREATE TABLE llm.tuning_dataset_distribution (
    id bigint NOT NULL,
    tuning_config_id integer NOT NULL,
    dataset_record_id bigint CONSTRAINT tuning_dataset_distribution_dataset_id_not_null NOT NULL,
    split text DEFAULT 'train'::text NOT NULL,
    config_sha256 text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT tuning_dataset_distribution_split_check CHECK ((split = ANY (ARRAY['train'::text, 'validation'::text, 'test'::text])))
);

--
-- Name: tuning_dataset_distribution_id_seq; Type: SEQUENCE; Schema: llm; Owner: -
--

CREATE SEQUENCE llm.tuning_dataset_distribution_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: tuning_dataset_distribution_id_seq; Type: SEQUENCE OWNED BY; Schema: llm; Owner: -
--

ALTER SEQUENCE llm.tuning_dataset_distribution_id_seq OWNED BY llm.tuning_dataset_distribution.id;

--
-- Name: dataset id; Type: DEFAULT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.dataset ALTER COLUMN id SET DEFAULT nextval('llm.dataset_id_seq'::regclass);

--
-- Name: dataset_editions id; Type: DEFAULT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.dataset_editions ALTER COLUMN id SET DEFAULT nextval('llm.dataset_editions_id_seq'::regclass);

--
-- Name: evaluation id; Type: DEFAULT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.evaluation ALTER COLUMN id SET DEFAULT nextval('llm.evaluation_id_seq'::regclass);

--
-- Name: fine_tuned_models id; Type: DEFAULT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.fine_tuned_models ALTER COLUMN id SET DEFAULT nextval('llm.fine_tuned_models_id_seq'::regclass);

--
-- Name: rejected_rows id; Type: DEFAULT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.rejected_rows ALTER COLUMN id SET DEFAULT nextval('llm.rejected_rows_id_seq'::regclass);

--
-- Name: system_file id; Type: DEFAULT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.system_file ALTER COLUMN id SET DEFAULT nextval('llm.system_file_id_seq'::regclass);

--
-- Name: system_output id; Type: DEFAULT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.system_output ALTER COLUMN id SET DEFAULT nextval('llm.system_output_id_seq'::regclass);

--
-- Name: training_logs id; Type: DEFAULT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.training_logs ALTER COLUMN id SET DEFAULT nextval('llm.training_logs_id_seq'::regclass);

--
-- Name: translation id; Type: DEFAULT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation ALTER COLUMN id SET DEFAULT nextval('llm.translation_id_seq'::regclass);

--
-- Name: translation_execution id; Type: DEFAULT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation_execution ALTER COLUMN id SET DEFAULT nextval('llm.translation_execution_id_seq'::regclass);

--
-- Name: translation_execution_models id; Type: DEFAULT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation_execution_models ALTER COLUMN id SET DEFAULT nextval('llm.translation_execution_models_id_seq'::regclass);

--
-- Name: translation_method id; Type: DEFAULT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation_method ALTER COLUMN id SET DEFAULT nextval('llm.translation_method_id_seq'::regclass);

--
-- Name: tuning_configs id; Type: DEFAULT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.tuning_configs ALTER COLUMN id SET DEFAULT nextval('llm.tuning_configs_id_seq'::regclass);

--
-- Name: tuning_dataset_distribution id; Type: DEFAULT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.tuning_dataset_distribution ALTER COLUMN id SET DEFAULT nextval('llm.tuning_dataset_distribution_id_seq'::regclass);

--
-- Name: dataset dataset_edition_reference_key; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.dataset
    ADD CONSTRAINT dataset_edition_reference_key UNIQUE (edition_id, source_reference);

--
-- Name: dataset_editions dataset_editions_name_sha_options_key; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.dataset_editions
    ADD CONSTRAINT dataset_editions_name_sha_options_key UNIQUE (name, file_sha256, options_sha256);

--
-- Name: dataset_editions dataset_editions_name_version_key; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.dataset_editions
    ADD CONSTRAINT dataset_editions_name_version_key UNIQUE (name, version);

--
-- Name: dataset_editions dataset_editions_pkey; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.dataset_editions
    ADD CONSTRAINT dataset_editions_pkey PRIMARY KEY (id);

--
-- Name: dataset dataset_pkey; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.dataset
    ADD CONSTRAINT dataset_pkey PRIMARY KEY (id);

--
-- Name: evaluation evaluation_key; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.evaluation
    ADD CONSTRAINT evaluation_key UNIQUE (translation_method_id, translation_execution_id, scope, scope_value, metric);

--
-- Name: evaluation evaluation_pkey; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.evaluation
    ADD CONSTRAINT evaluation_pkey PRIMARY KEY (id);

--
-- Name: fine_tuned_models fine_tuned_models_pkey; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.fine_tuned_models
    ADD CONSTRAINT fine_tuned_models_pkey PRIMARY KEY (id);

--
-- Name: rejected_rows rejected_rows_edition_line_key; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.rejected_rows
    ADD CONSTRAINT rejected_rows_edition_line_key UNIQUE (edition_id, line_number);

--
-- Name: rejected_rows rejected_rows_pkey; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.rejected_rows
    ADD CONSTRAINT rejected_rows_pkey PRIMARY KEY (id);

--
-- Name: rejected_rows rejected_rows_system_line_key; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.rejected_rows
    ADD CONSTRAINT rejected_rows_system_line_key UNIQUE (system_file_id, line_number);

--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);

--
-- Name: system_file system_file_name_key; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.system_file
    ADD CONSTRAINT system_file_name_key UNIQUE (name);

--
-- Name: system_file system_file_pkey; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.system_file
    ADD CONSTRAINT system_file_pkey PRIMARY KEY (id);

--
-- Name: system_output system_output_pkey; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.system_output
    ADD CONSTRAINT system_output_pkey PRIMARY KEY (id);

--
-- Name: system_output system_output_system_file_id_dataset_id_key; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.system_output
    ADD CONSTRAINT system_output_system_file_id_dataset_id_key UNIQUE (system_file_id, dataset_id);

--
-- Name: system_output system_output_system_file_id_line_number_key; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.system_output
    ADD CONSTRAINT system_output_system_file_id_line_number_key UNIQUE (system_file_id, line_number);

--
-- Name: training_logs training_logs_pkey; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.training_logs
    ADD CONSTRAINT training_logs_pkey PRIMARY KEY (id);

--
-- Name: translation_execution_models translation_execution_models_key; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation_execution_models
    ADD CONSTRAINT translation_execution_models_key UNIQUE (translation_execution_id, translation_method_id);

--
-- Name: translation_execution_models translation_execution_models_pkey; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation_execution_models
    ADD CONSTRAINT translation_execution_models_pkey PRIMARY KEY (id);

--
-- Name: translation_execution translation_execution_name_key; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation_execution
    ADD CONSTRAINT translation_execution_name_key UNIQUE (name);

--
-- Name: translation_execution translation_execution_pkey; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation_execution
    ADD CONSTRAINT translation_execution_pkey PRIMARY KEY (id);

--
-- Name: translation_method translation_method_name_key; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation_method
    ADD CONSTRAINT translation_method_name_key UNIQUE (name);

--
-- Name: translation_method translation_method_pkey; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation_method
    ADD CONSTRAINT translation_method_pkey PRIMARY KEY (id);

--
-- Name: translation translation_method_row_key; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation
    ADD CONSTRAINT translation_method_row_key UNIQUE (translation_method_id, tuning_dataset_distribution_id);

--
-- Name: translation translation_pkey; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation
    ADD CONSTRAINT translation_pkey PRIMARY KEY (id);

--
-- Name: tuning_configs tuning_configs_name_key; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.tuning_configs
    ADD CONSTRAINT tuning_configs_name_key UNIQUE (name);

--
-- Name: tuning_configs tuning_configs_pkey; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.tuning_configs
    ADD CONSTRAINT tuning_configs_pkey PRIMARY KEY (id);

--
-- Name: tuning_dataset_distribution tuning_dataset_distribution_config_row_key; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.tuning_dataset_distribution
    ADD CONSTRAINT tuning_dataset_distribution_config_row_key UNIQUE (tuning_config_id, dataset_record_id);

--
-- Name: tuning_dataset_distribution tuning_dataset_distribution_pkey; Type: CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.tuning_dataset_distribution
    ADD CONSTRAINT tuning_dataset_distribution_pkey PRIMARY KEY (id);

--
-- Name: dataset_language_idx; Type: INDEX; Schema: llm; Owner: -
--

CREATE INDEX dataset_language_idx ON llm.dataset USING btree (source_language);

--
-- Name: fine_tuned_models_config_idx; Type: INDEX; Schema: llm; Owner: -
--

CREATE INDEX fine_tuned_models_config_idx ON llm.fine_tuned_models USING btree (tuning_config_id, status);

--
-- Name: system_output_dataset_idx; Type: INDEX; Schema: llm; Owner: -
--

CREATE INDEX system_output_dataset_idx ON llm.system_output USING btree (dataset_id);

--
-- Name: training_logs_model_step_idx; Type: INDEX; Schema: llm; Owner: -
--

CREATE INDEX training_logs_model_step_idx ON llm.training_logs USING btree (fine_tuned_model_id, step);

--
-- Name: translation_distribution_idx; Type: INDEX; Schema: llm; Owner: -
--

CREATE INDEX translation_distribution_idx ON llm.translation USING btree (tuning_dataset_distribution_id);

--
-- Name: tuning_dataset_distribution_dataset_idx; Type: INDEX; Schema: llm; Owner: -
--

CREATE INDEX tuning_dataset_distribution_dataset_idx ON llm.tuning_dataset_distribution USING btree (dataset_record_id);

--
-- Name: dataset dataset_edition_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.dataset
    ADD CONSTRAINT dataset_edition_id_fkey FOREIGN KEY (edition_id) REFERENCES llm.dataset_editions(id);

--
-- Name: evaluation evaluation_translation_execution_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.evaluation
    ADD CONSTRAINT evaluation_translation_execution_id_fkey FOREIGN KEY (translation_execution_id) REFERENCES llm.translation_execution(id);

--
-- Name: evaluation evaluation_translation_method_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.evaluation
    ADD CONSTRAINT evaluation_translation_method_id_fkey FOREIGN KEY (translation_method_id) REFERENCES llm.translation_method(id);

--
-- Name: fine_tuned_models fine_tuned_models_tuning_config_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.fine_tuned_models
    ADD CONSTRAINT fine_tuned_models_tuning_config_id_fkey FOREIGN KEY (tuning_config_id) REFERENCES llm.tuning_configs(id);

--
-- Name: rejected_rows rejected_rows_edition_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.rejected_rows
    ADD CONSTRAINT rejected_rows_edition_id_fkey FOREIGN KEY (edition_id) REFERENCES llm.dataset_editions(id);

--
-- Name: rejected_rows rejected_rows_system_file_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.rejected_rows
    ADD CONSTRAINT rejected_rows_system_file_id_fkey FOREIGN KEY (system_file_id) REFERENCES llm.system_file(id) ON DELETE CASCADE;

--
-- Name: system_output system_output_dataset_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.system_output
    ADD CONSTRAINT system_output_dataset_id_fkey FOREIGN KEY (dataset_id) REFERENCES llm.dataset(id);

--
-- Name: system_output system_output_system_file_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.system_output
    ADD CONSTRAINT system_output_system_file_id_fkey FOREIGN KEY (system_file_id) REFERENCES llm.system_file(id) ON DELETE CASCADE;

--
-- Name: training_logs training_logs_fine_tuned_model_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.training_logs
    ADD CONSTRAINT training_logs_fine_tuned_model_id_fkey FOREIGN KEY (fine_tuned_model_id) REFERENCES llm.fine_tuned_models(id);

--
-- Name: translation_execution_models translation_execution_models_translation_execution_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation_execution_models
    ADD CONSTRAINT translation_execution_models_translation_execution_id_fkey FOREIGN KEY (translation_execution_id) REFERENCES llm.translation_execution(id);

--
-- Name: translation_execution_models translation_execution_models_translation_method_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation_execution_models
    ADD CONSTRAINT translation_execution_models_translation_method_id_fkey FOREIGN KEY (translation_method_id) REFERENCES llm.translation_method(id);

--
-- Name: translation_execution translation_execution_tuning_config_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation_execution
    ADD CONSTRAINT translation_execution_tuning_config_id_fkey FOREIGN KEY (tuning_config_id) REFERENCES llm.tuning_configs(id);

--
-- Name: translation_method translation_method_fine_tuned_model_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation_method
    ADD CONSTRAINT translation_method_fine_tuned_model_id_fkey FOREIGN KEY (fine_tuned_models_id) REFERENCES llm.fine_tuned_models(id);

--
-- Name: translation_method translation_method_tuning_config_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation_method
    ADD CONSTRAINT translation_method_tuning_config_id_fkey FOREIGN KEY (tuning_config_id) REFERENCES llm.tuning_configs(id);

--
-- Name: translation translation_translation_execution_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation
    ADD CONSTRAINT translation_translation_execution_id_fkey FOREIGN KEY (translation_execution_id) REFERENCES llm.translation_execution(id);

--
-- Name: translation translation_translation_method_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation
    ADD CONSTRAINT translation_translation_method_id_fkey FOREIGN KEY (translation_method_id) REFERENCES llm.translation_method(id);

--
-- Name: translation translation_tuning_dataset_distribution_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.translation
    ADD CONSTRAINT translation_tuning_dataset_distribution_id_fkey FOREIGN KEY (tuning_dataset_distribution_id) REFERENCES llm.tuning_dataset_distribution(id);

--
-- Name: tuning_dataset_distribution tuning_dataset_distribution_dataset_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.tuning_dataset_distribution
    ADD CONSTRAINT tuning_dataset_distribution_dataset_id_fkey FOREIGN KEY (dataset_record_id) REFERENCES llm.dataset(id);

--
-- Name: tuning_dataset_distribution tuning_dataset_distribution_tuning_config_id_fkey; Type: FK CONSTRAINT; Schema: llm; Owner: -
--

ALTER TABLE ONLY llm.tuning_dataset_distribution
    ADD CONSTRAINT tuning_dataset_distribution_tuning_config_id_fkey FOREIGN KEY (tuning_config_id) REFERENCES llm.tuning_configs(id);

--
-- PostgreSQL database dump complete
--
