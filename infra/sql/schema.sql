-- aoai-ledger schema for Azure SQL Database, generated from shared/store/schema.py (make schema).
-- Idempotent: each table is created only when it does not exist yet.

IF OBJECT_ID(N'dbo.access_log', N'U') IS NULL
BEGIN
    CREATE TABLE access_log (
	id INTEGER NOT NULL IDENTITY, 
	at DATETIME2 NOT NULL, 
	actor NVARCHAR(256) NOT NULL, 
	action VARCHAR(32) NOT NULL, 
	target NVARCHAR(256) NOT NULL, 
	client_ip VARCHAR(64) NULL, 
	detail NVARCHAR(1024) NULL, 
	PRIMARY KEY (id)
);
    CREATE INDEX ix_access_log_at ON access_log (at, id);
END;
GO

IF OBJECT_ID(N'dbo.alert_channels', N'U') IS NULL
BEGIN
    CREATE TABLE alert_channels (
	channel VARCHAR(64) NOT NULL, 
	added_at DATETIME2 NOT NULL, 
	CONSTRAINT pk_alert_channels PRIMARY KEY (channel)
);
END;
GO

IF OBJECT_ID(N'dbo.alert_posts', N'U') IS NULL
BEGIN
    CREATE TABLE alert_posts (
	alert_id INTEGER NOT NULL, 
	channel VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	attempts INTEGER NOT NULL, 
	last_error NVARCHAR(1024) NULL, 
	claimed_at DATETIME2 NULL, 
	sent_at DATETIME2 NULL, 
	CONSTRAINT pk_alert_posts PRIMARY KEY (alert_id, channel)
);
    CREATE INDEX ix_alert_posts_status ON alert_posts (status);
END;
GO

IF OBJECT_ID(N'dbo.alerts', N'U') IS NULL
BEGIN
    CREATE TABLE alerts (
	id INTEGER NOT NULL IDENTITY, 
	dedupe_key VARCHAR(256) NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	scope_type VARCHAR(16) NOT NULL, 
	scope_id NVARCHAR(256) NOT NULL, 
	occurred_at DATETIME2 NOT NULL, 
	created_at DATETIME2 NOT NULL, 
	subject NVARCHAR(512) NOT NULL, 
	details NVARCHAR(max) NOT NULL, 
	recipients NVARCHAR(2048) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	attempts INTEGER NOT NULL, 
	last_error NVARCHAR(1024) NULL, 
	claimed_at DATETIME2 NULL, 
	sent_at DATETIME2 NULL, 
	PRIMARY KEY (id), 
	UNIQUE (dedupe_key)
);
    CREATE INDEX ix_alerts_scope ON alerts (kind, scope_type, scope_id, occurred_at);
    CREATE INDEX ix_alerts_status ON alerts (status);
END;
GO

IF OBJECT_ID(N'dbo.call_payloads', N'U') IS NULL
BEGIN
    CREATE TABLE call_payloads (
	call_id VARCHAR(64) NOT NULL, 
	time DATETIME2 NOT NULL, 
	request_params NVARCHAR(max) NULL, 
	prompt_text NVARCHAR(max) NULL, 
	completion_text NVARCHAR(max) NULL, 
	tool_calls NVARCHAR(max) NULL, 
	content_filter NVARCHAR(max) NULL, 
	request_body NVARCHAR(max) NULL, 
	response_body NVARCHAR(max) NULL, 
	redactions VARCHAR(256) NULL, 
	purged_at DATETIME2 NULL, 
	PRIMARY KEY (call_id)
);
    CREATE INDEX ix_call_payloads_time ON call_payloads (time);
END;
GO

IF OBJECT_ID(N'dbo.calls', N'U') IS NULL
BEGIN
    CREATE TABLE calls (
	call_id VARCHAR(64) NOT NULL, 
	time DATETIME2 NOT NULL, 
	hour DATETIME2 NOT NULL, 
	ingested_at DATETIME2 NOT NULL, 
	source VARCHAR(64) NOT NULL, 
	operation VARCHAR(32) NOT NULL, 
	api_operation_id NVARCHAR(256) NULL, 
	api_version VARCHAR(32) NULL, 
	deployment NVARCHAR(256) NULL, 
	model NVARCHAR(256) NULL, 
	ip VARCHAR(64) NULL, 
	subscription_id NVARCHAR(256) NULL, 
	subscription_name NVARCHAR(256) NULL, 
	product_id NVARCHAR(256) NULL, 
	user_id NVARCHAR(256) NULL, 
	user_name NVARCHAR(256) NULL, 
	app_id NVARCHAR(256) NULL, 
	end_user NVARCHAR(256) NULL, 
	tenant_id NVARCHAR(256) NULL, 
	gateway NVARCHAR(256) NULL, 
	region NVARCHAR(256) NULL, 
	backend_id NVARCHAR(256) NULL, 
	backend_url VARCHAR(512) NULL, 
	status INTEGER NOT NULL, 
	duration_ms FLOAT NULL, 
	backend_ms FLOAT NULL, 
	streamed BIT NOT NULL, 
	finish_reason VARCHAR(32) NULL, 
	content_filtered BIT NOT NULL, 
	error_code NVARCHAR(256) NULL, 
	error_message VARCHAR(1024) NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	tokens_estimated BIT NOT NULL, 
	cost_usd FLOAT NULL, 
	truncated BIT NOT NULL, 
	body_missing BIT NOT NULL, 
	stream_incomplete BIT NOT NULL, 
	PRIMARY KEY (call_id)
);
    CREATE INDEX ix_calls_deployment_time ON calls (deployment, time, backend_id, total_tokens);
    CREATE INDEX ix_calls_end_user_time ON calls (end_user, time, call_id);
    CREATE INDEX ix_calls_ingested_at ON calls (ingested_at);
    CREATE INDEX ix_calls_subscription_time ON calls (subscription_id, time, call_id);
    CREATE INDEX ix_calls_time ON calls (time, call_id);
    CREATE INDEX ix_calls_user_time ON calls (user_id, time, call_id);
END;
GO

IF OBJECT_ID(N'dbo.dead_letters', N'U') IS NULL
BEGIN
    CREATE TABLE dead_letters (
	id INTEGER NOT NULL IDENTITY, 
	received_at DATETIME2 NOT NULL, 
	raw_sha256 VARCHAR(64) NOT NULL, 
	event_id VARCHAR(64) NULL, 
	source VARCHAR(256) NULL, 
	reason VARCHAR(1024) NOT NULL, 
	raw VARBINARY(max) NOT NULL, 
	call_id VARCHAR(64) NULL, 
	status VARCHAR(16) NOT NULL, 
	resolved_at DATETIME2 NULL, 
	PRIMARY KEY (id), 
	UNIQUE (raw_sha256)
);
    CREATE INDEX ix_dead_letters_received ON dead_letters (received_at);
END;
GO

IF OBJECT_ID(N'dbo.display_names', N'U') IS NULL
BEGIN
    CREATE TABLE display_names (
	kind VARCHAR(16) NOT NULL, 
	id NVARCHAR(256) NOT NULL, 
	name NVARCHAR(256) NOT NULL, 
	seen_at DATETIME2 NOT NULL, 
	CONSTRAINT pk_display_names PRIMARY KEY (kind, id)
);
    CREATE INDEX ix_display_names_name ON display_names (kind, name);
END;
GO

IF OBJECT_ID(N'dbo.pending_parts', N'U') IS NULL
BEGIN
    CREATE TABLE pending_parts (
	kind VARCHAR(32) NOT NULL, 
	part_key VARCHAR(64) NOT NULL, 
	part VARCHAR(64) NOT NULL, 
	received_at DATETIME2 NOT NULL, 
	payload VARBINARY(max) NOT NULL, 
	PRIMARY KEY (kind, part_key, part)
);
    CREATE INDEX ix_pending_parts_received ON pending_parts (received_at);
END;
GO

IF OBJECT_ID(N'dbo.ptu_day_shares', N'U') IS NULL
BEGIN
    CREATE TABLE ptu_day_shares (
	entry_key VARCHAR(32) NOT NULL, 
	cut VARCHAR(32) NOT NULL, 
	days INTEGER NOT NULL, 
	day DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	subscription_id NVARCHAR(256) NOT NULL, 
	product_id NVARCHAR(256) NOT NULL, 
	user_id NVARCHAR(256) NOT NULL, 
	app_id NVARCHAR(256) NOT NULL, 
	ip NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	deployment NVARCHAR(256) NOT NULL, 
	operation NVARCHAR(256) NOT NULL, 
	backend_id NVARCHAR(256) NOT NULL, 
	status INTEGER NOT NULL, 
	end_user NVARCHAR(256) NOT NULL, 
	ptu_usd FLOAT NOT NULL, 
	token_cost_usd FLOAT NOT NULL, 
	unpriced BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	CONSTRAINT pk_ptu_day_shares PRIMARY KEY (entry_key, cut, days, day, dims_key)
);
END;
GO

IF OBJECT_ID(N'dbo.ptu_days', N'U') IS NULL
BEGIN
    CREATE TABLE ptu_days (
	entry_key VARCHAR(32) NOT NULL, 
	days INTEGER NOT NULL, 
	day DATETIME2 NOT NULL, 
	changes BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	ptu_usd FLOAT NOT NULL, 
	busy_hours INTEGER NOT NULL, 
	peak_tokens_per_minute BIGINT NOT NULL, 
	CONSTRAINT pk_ptu_days PRIMARY KEY (entry_key, days, day)
);
END;
GO

IF OBJECT_ID(N'dbo.quota_crossings', N'U') IS NULL
BEGIN
    CREATE TABLE quota_crossings (
	scope_type VARCHAR(16) NOT NULL, 
	scope_id NVARCHAR(256) NOT NULL, 
	period_start DATETIME2 NOT NULL, 
	threshold INTEGER NOT NULL, 
	alert_id INTEGER NULL, 
	claimed_at DATETIME2 NOT NULL, 
	CONSTRAINT pk_quota_crossings PRIMARY KEY (scope_type, scope_id, period_start, threshold)
);
END;
GO

IF OBJECT_ID(N'dbo.quotas', N'U') IS NULL
BEGIN
    CREATE TABLE quotas (
	scope_type VARCHAR(16) NOT NULL, 
	scope_id NVARCHAR(256) NOT NULL, 
	period VARCHAR(8) NOT NULL, 
	limit_tokens BIGINT NULL, 
	limit_cost_usd FLOAT NULL, 
	thresholds VARCHAR(256) NOT NULL, 
	notify NVARCHAR(2048) NOT NULL, 
	managed_by VARCHAR(8) NOT NULL, 
	updated_at DATETIME2 NOT NULL, 
	CONSTRAINT pk_quotas PRIMARY KEY (scope_type, scope_id)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_cum_app_end_user_model', N'U') IS NULL
BEGIN
    CREATE TABLE usage_cum_app_end_user_model (
	day DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	app_id NVARCHAR(256) NOT NULL, 
	end_user NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_cum_app_end_user_model PRIMARY KEY (day, dims_key)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_cum_app_model', N'U') IS NULL
BEGIN
    CREATE TABLE usage_cum_app_model (
	day DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	app_id NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_cum_app_model PRIMARY KEY (day, dims_key)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_cum_ip_model', N'U') IS NULL
BEGIN
    CREATE TABLE usage_cum_ip_model (
	day DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	ip NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_cum_ip_model PRIMARY KEY (day, dims_key)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_cum_marks', N'U') IS NULL
BEGIN
    CREATE TABLE usage_cum_marks (
	month DATETIME2 NOT NULL, 
	last_day DATETIME2 NOT NULL, 
	CONSTRAINT pk_usage_cum_marks PRIMARY KEY (month)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_cum_service', N'U') IS NULL
BEGIN
    CREATE TABLE usage_cum_service (
	day DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	product_id NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	deployment NVARCHAR(256) NOT NULL, 
	operation NVARCHAR(256) NOT NULL, 
	backend_id NVARCHAR(256) NOT NULL, 
	status INTEGER NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_cum_service PRIMARY KEY (day, dims_key)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_cum_subscription_model', N'U') IS NULL
BEGIN
    CREATE TABLE usage_cum_subscription_model (
	day DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	subscription_id NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_cum_subscription_model PRIMARY KEY (day, dims_key)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_cum_team', N'U') IS NULL
BEGIN
    CREATE TABLE usage_cum_team (
	day DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	subscription_id NVARCHAR(256) NOT NULL, 
	product_id NVARCHAR(256) NOT NULL, 
	app_id NVARCHAR(256) NOT NULL, 
	user_id NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_cum_team PRIMARY KEY (day, dims_key)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_cum_user_model', N'U') IS NULL
BEGIN
    CREATE TABLE usage_cum_user_model (
	day DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	user_id NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_cum_user_model PRIMARY KEY (day, dims_key)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_cumh_app_end_user_model', N'U') IS NULL
BEGIN
    CREATE TABLE usage_cumh_app_end_user_model (
	hour DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	app_id NVARCHAR(256) NOT NULL, 
	end_user NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_cumh_app_end_user_model PRIMARY KEY (hour, dims_key)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_cumh_app_model', N'U') IS NULL
BEGIN
    CREATE TABLE usage_cumh_app_model (
	hour DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	app_id NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_cumh_app_model PRIMARY KEY (hour, dims_key)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_cumh_ip_model', N'U') IS NULL
BEGIN
    CREATE TABLE usage_cumh_ip_model (
	hour DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	ip NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_cumh_ip_model PRIMARY KEY (hour, dims_key)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_cumh_marks', N'U') IS NULL
BEGIN
    CREATE TABLE usage_cumh_marks (
	day DATETIME2 NOT NULL, 
	last_hour DATETIME2 NOT NULL, 
	CONSTRAINT pk_usage_cumh_marks PRIMARY KEY (day)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_cumh_service', N'U') IS NULL
BEGIN
    CREATE TABLE usage_cumh_service (
	hour DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	product_id NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	deployment NVARCHAR(256) NOT NULL, 
	operation NVARCHAR(256) NOT NULL, 
	backend_id NVARCHAR(256) NOT NULL, 
	status INTEGER NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_cumh_service PRIMARY KEY (hour, dims_key)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_cumh_subscription_model', N'U') IS NULL
BEGIN
    CREATE TABLE usage_cumh_subscription_model (
	hour DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	subscription_id NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_cumh_subscription_model PRIMARY KEY (hour, dims_key)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_cumh_team', N'U') IS NULL
BEGIN
    CREATE TABLE usage_cumh_team (
	hour DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	subscription_id NVARCHAR(256) NOT NULL, 
	product_id NVARCHAR(256) NOT NULL, 
	app_id NVARCHAR(256) NOT NULL, 
	user_id NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_cumh_team PRIMARY KEY (hour, dims_key)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_cumh_user_model', N'U') IS NULL
BEGIN
    CREATE TABLE usage_cumh_user_model (
	hour DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	user_id NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_cumh_user_model PRIMARY KEY (hour, dims_key)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_daily', N'U') IS NULL
BEGIN
    CREATE TABLE usage_daily (
	day DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	subscription_id NVARCHAR(256) NOT NULL, 
	product_id NVARCHAR(256) NOT NULL, 
	user_id NVARCHAR(256) NOT NULL, 
	app_id NVARCHAR(256) NOT NULL, 
	ip NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	deployment NVARCHAR(256) NOT NULL, 
	operation NVARCHAR(256) NOT NULL, 
	backend_id NVARCHAR(256) NOT NULL, 
	status INTEGER NOT NULL, 
	end_user NVARCHAR(256) NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_daily PRIMARY KEY (day, dims_key)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_daily_cuts', N'U') IS NULL
BEGIN
    CREATE TABLE usage_daily_cuts (
	cut VARCHAR(32) NOT NULL, 
	day DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	subscription_id NVARCHAR(256) NOT NULL, 
	product_id NVARCHAR(256) NOT NULL, 
	user_id NVARCHAR(256) NOT NULL, 
	app_id NVARCHAR(256) NOT NULL, 
	ip NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	deployment NVARCHAR(256) NOT NULL, 
	operation NVARCHAR(256) NOT NULL, 
	backend_id NVARCHAR(256) NOT NULL, 
	status INTEGER NOT NULL, 
	end_user NVARCHAR(256) NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_daily_cuts PRIMARY KEY (cut, day, dims_key)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_day_changes', N'U') IS NULL
BEGIN
    CREATE TABLE usage_day_changes (
	day DATETIME2 NOT NULL, 
	deployment NVARCHAR(256) NOT NULL, 
	changes BIGINT NOT NULL, 
	CONSTRAINT pk_usage_day_changes PRIMARY KEY (day, deployment)
);
END;
GO

IF OBJECT_ID(N'dbo.usage_hourly', N'U') IS NULL
BEGIN
    CREATE TABLE usage_hourly (
	hour DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	subscription_id NVARCHAR(256) NOT NULL, 
	product_id NVARCHAR(256) NOT NULL, 
	user_id NVARCHAR(256) NOT NULL, 
	app_id NVARCHAR(256) NOT NULL, 
	ip NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	deployment NVARCHAR(256) NOT NULL, 
	operation NVARCHAR(256) NOT NULL, 
	backend_id NVARCHAR(256) NOT NULL, 
	status INTEGER NOT NULL, 
	end_user NVARCHAR(256) NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_hourly PRIMARY KEY (hour, dims_key)
);
    CREATE INDEX ix_usage_hourly_deployment ON usage_hourly (deployment, hour);
END;
GO

IF OBJECT_ID(N'dbo.usage_hourly_cuts', N'U') IS NULL
BEGIN
    CREATE TABLE usage_hourly_cuts (
	cut VARCHAR(32) NOT NULL, 
	hour DATETIME2 NOT NULL, 
	dims_key VARCHAR(32) NOT NULL, 
	subscription_id NVARCHAR(256) NOT NULL, 
	product_id NVARCHAR(256) NOT NULL, 
	user_id NVARCHAR(256) NOT NULL, 
	app_id NVARCHAR(256) NOT NULL, 
	ip NVARCHAR(256) NOT NULL, 
	model NVARCHAR(256) NOT NULL, 
	deployment NVARCHAR(256) NOT NULL, 
	operation NVARCHAR(256) NOT NULL, 
	backend_id NVARCHAR(256) NOT NULL, 
	status INTEGER NOT NULL, 
	end_user NVARCHAR(256) NOT NULL, 
	requests BIGINT NOT NULL, 
	failed_requests BIGINT NOT NULL, 
	prompt_tokens BIGINT NOT NULL, 
	completion_tokens BIGINT NOT NULL, 
	total_tokens BIGINT NOT NULL, 
	cached_tokens BIGINT NOT NULL, 
	reasoning_tokens BIGINT NOT NULL, 
	estimated_tokens_requests BIGINT NOT NULL, 
	priced_requests BIGINT NOT NULL, 
	cost_usd FLOAT NOT NULL, 
	duration_ms_sum FLOAT NOT NULL, 
	duration_count BIGINT NOT NULL, 
	CONSTRAINT pk_usage_hourly_cuts PRIMARY KEY (cut, hour, dims_key)
);
END;
GO
