/*
** rs_schema.h: the documented SQLite schema of an hpsweep database (version 4).
**
** Contract: table and column names are a public interface (users' SQL and the
** docs/database.md's example queries rely on them); later versions only add, through
** migrations keyed on PRAGMA user_version. Times are unix seconds (REAL).
**
**   sweeps   one row per sweep (name unique)
**   trials   one row per trial of a sweep's expansion, UNIQUE(sweep_id, hash):
**            a retry or a resume updates the row, it never adds one
**   metrics  one row per (trial, metric name, step); re-logging a step replaces it
**   events   an append-only log of what happened (claims, failures, resumes)
**   trial_counts  (v2) trials per (sweep, status), kept by triggers: counts without a scan
**   (v3) statuses pruned and paused (early termination), trials.rung, events.detail
**   (v4) trials.owner: which process on which boot holds the claim (same-host reclaim)
**   views    trial_params (one row per swept parameter of a trial),
**            trials_view (trials with the sweep's name and status counts friendly)
*/
#ifndef RS_SCHEMA_H
#define RS_SCHEMA_H

#define RS_SCHEMA_VERSION 4
/* PRAGMA application_id of every hpsweep database ('HPSW'): tells ours from other SQLite files. */
#define RS_APPLICATION_ID 0x48505357

#define RS_SCHEMA_V1 \
  "CREATE TABLE sweeps (\n" \
  "  id INTEGER PRIMARY KEY,\n" \
  "  name TEXT NOT NULL UNIQUE,\n" \
  "  spec TEXT NOT NULL,               -- the spec file's text as given\n" \
  "  spec_hash TEXT NOT NULL,          -- hash of the expanded trial set\n" \
  "  method TEXT NOT NULL,             -- grid | random\n" \
  "  metric TEXT NOT NULL,             -- e.g. val_loss\n" \
  "  goal TEXT NOT NULL,               -- minimize | maximize\n" \
  "  seed INTEGER NOT NULL,            -- seed of random search\n" \
  "  task TEXT NOT NULL DEFAULT 'train', -- train | sample\n" \
  "  created REAL NOT NULL\n" \
  ");\n" \
  "CREATE TABLE trials (\n" \
  "  id INTEGER PRIMARY KEY,\n" \
  "  sweep_id INTEGER NOT NULL REFERENCES sweeps(id),\n" \
  "  idx INTEGER NOT NULL,             -- position in the expansion (0-based)\n" \
  "  hash TEXT NOT NULL,               -- 16 hex digits: canonical config + seed\n" \
  "  config TEXT NOT NULL,             -- the full training config, canonical JSON\n" \
  "  params TEXT NOT NULL,             -- JSON object of the swept keys: {\"optimizer.lr\": 0.001}\n" \
  "  seed INTEGER NOT NULL,            -- train.seed of this trial\n" \
  "  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN\n" \
  "    ('pending','running','completed','failed','diverged','interrupted')),\n" \
  "  attempts INTEGER NOT NULL DEFAULT 0, -- claims so far (resumes, reclaims and retries all count)\n" \
  "  worker TEXT,                      -- host:pid of the runner holding the claim\n" \
  "  lease_until REAL,                 -- a running trial past its lease may be reclaimed\n" \
  "  claim_token INTEGER NOT NULL DEFAULT 0, -- bumped at each claim; writes must match it\n" \
  "  started REAL,\n" \
  "  ended REAL,\n" \
  "  final_metric REAL,                -- the sweep metric at the end of the run\n" \
  "  best_metric REAL,                 -- best value of the sweep metric during the run\n" \
  "  best_step INTEGER,\n" \
  "  steps INTEGER,\n" \
  "  tokens INTEGER,\n" \
  "  wall_seconds REAL,\n" \
  "  flops REAL,                       -- training FLOPs spent (6N + attention per token)\n" \
  "  summary TEXT,                     -- JSON summary of the run\n" \
  "  error TEXT,                       -- failed/diverged: the reason and last log lines\n" \
  "  checkpoint TEXT,                  -- latest checkpoint path, for resume\n" \
  "  checkpoint_step INTEGER,          -- the step that checkpoint holds: a resume drops later metrics\n" \
  "  UNIQUE (sweep_id, hash)\n" \
  ");\n" \
  "CREATE INDEX trials_status ON trials (sweep_id, status);\n" \
  "CREATE TABLE metrics (\n" \
  "  trial_id INTEGER NOT NULL REFERENCES trials(id),\n" \
  "  name TEXT NOT NULL,               -- train_loss, val_loss, lr, grad_norm, tokens_per_second, gns, ...\n" \
  "  step INTEGER NOT NULL,\n" \
  "  tokens INTEGER NOT NULL,\n" \
  "  seconds REAL NOT NULL,            -- elapsed training seconds at this step\n" \
  "  value REAL NOT NULL,\n" \
  "  PRIMARY KEY (trial_id, name, step)\n" \
  ") WITHOUT ROWID;\n" \
  "CREATE TABLE events (\n" \
  "  id INTEGER PRIMARY KEY,\n" \
  "  sweep_id INTEGER REFERENCES sweeps(id),\n" \
  "  trial_id INTEGER REFERENCES trials(id),\n" \
  "  time REAL NOT NULL,\n" \
  "  kind TEXT NOT NULL,               -- claim, complete, fail, diverge, interrupt, reclaim, resume, retry\n" \
  "  message TEXT\n" \
  ");\n" \
  "CREATE VIEW trial_params AS\n" \
  "  SELECT t.id AS trial_id, t.sweep_id AS sweep_id, j.key AS name, j.value AS value\n" \
  "  FROM trials t, json_each(t.params) j;\n" \
  "CREATE VIEW trials_view AS\n" \
  "  SELECT s.name AS sweep, t.id AS trial, t.idx, t.status, t.seed, t.params,\n" \
  "         t.best_metric, t.final_metric, t.best_step, t.steps, t.tokens, t.wall_seconds, t.error\n" \
  "  FROM trials t JOIN sweeps s ON s.id = t.sweep_id;\n"

/* Version 2 (from 1): retries count failures, not claims; lease reclaims are capped;
** a running trial's last sign of life. A v1 database gets failures = attempts for its
** failed trials (the old budget: they are retried no more than before).
**   failures   failed attempts: a failed trial is retried while failures < 1 + max_retries
**   reclaims   times its lease expired and another runner took it over since its last
**              checkpoint (more than RS_RECLAIM_MAX: failed for good)
**   no_retry   1: failed in a way a retry with the same config repeats (killed by the
**              OOM killer, the lease expired too often): never retried
**   heartbeat  when the runner holding the claim was last heard from (claim, heartbeat) */
#define RS_SCHEMA_V2 \
  "ALTER TABLE trials ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;\n" \
  "ALTER TABLE trials ADD COLUMN reclaims INTEGER NOT NULL DEFAULT 0;\n" \
  "ALTER TABLE trials ADD COLUMN no_retry INTEGER NOT NULL DEFAULT 0;\n" \
  "ALTER TABLE trials ADD COLUMN heartbeat REAL;\n" \
  "UPDATE trials SET failures = attempts WHERE status = 'failed';\n"

/* Version 2 (from 1), for large sweeps (100,000 trials): every claim probe (rs_trial_claim:
** one status class, first idx) is a walk of trials_claim that stops at its first row, never a
** sort of every candidate (trials_claim has the old trials_status as its prefix, so that one
** goes); trial_counts holds the trials of each (sweep, status), kept by triggers on trials,
** so the runner's counts after every trial cost one lookup, not a count of the whole sweep.
** IF [NOT] EXISTS throughout: this block may run beside other v2 steps. */
#define RS_SCHEMA_V2_SCALE \
  "CREATE INDEX IF NOT EXISTS trials_claim ON trials (sweep_id, status, idx);\n" \
  "DROP INDEX IF EXISTS trials_status;\n" \
  "CREATE TABLE IF NOT EXISTS trial_counts (\n" \
  "  sweep_id INTEGER NOT NULL,\n" \
  "  status TEXT NOT NULL,\n" \
  "  n INTEGER NOT NULL,               -- trials of the sweep with this status\n" \
  "  PRIMARY KEY (sweep_id, status)\n" \
  ") WITHOUT ROWID;\n" \
  "INSERT OR REPLACE INTO trial_counts (sweep_id, status, n)\n" \
  "  SELECT sweep_id, status, count(*) FROM trials GROUP BY sweep_id, status;\n" \
  "CREATE TRIGGER IF NOT EXISTS trial_counts_insert AFTER INSERT ON trials BEGIN\n" \
  "  INSERT INTO trial_counts (sweep_id, status, n) VALUES (NEW.sweep_id, NEW.status, 1)\n" \
  "    ON CONFLICT (sweep_id, status) DO UPDATE SET n = n + 1;\n" \
  "END;\n" \
  "CREATE TRIGGER IF NOT EXISTS trial_counts_update AFTER UPDATE OF sweep_id, status ON trials\n" \
  "  WHEN OLD.status IS NOT NEW.status OR OLD.sweep_id IS NOT NEW.sweep_id BEGIN\n" \
  "  UPDATE trial_counts SET n = n - 1 WHERE sweep_id = OLD.sweep_id AND status = OLD.status;\n" \
  "  INSERT INTO trial_counts (sweep_id, status, n) VALUES (NEW.sweep_id, NEW.status, 1)\n" \
  "    ON CONFLICT (sweep_id, status) DO UPDATE SET n = n + 1;\n" \
  "END;\n" \
  "CREATE TRIGGER IF NOT EXISTS trial_counts_delete AFTER DELETE ON trials BEGIN\n" \
  "  UPDATE trial_counts SET n = n - 1 WHERE sweep_id = OLD.sweep_id AND status = OLD.status;\n" \
  "END;\n"

/* Version 3 (from 2): early termination (docs/early-termination.md). trials.status also takes
** 'pruned' (stopped early for good) and 'paused' (stopped at a rung with its checkpoint, waiting
** for a promotion). A CHECK constraint cannot be altered in SQLite: the table is rebuilt by the
** documented procedure (sqlite.org/lang_altertable.html#otheralter): new table, rows copied
** with their ids, old one dropped, new one renamed, then its index, the trial_counts triggers
** and the views made again (dropped first: they name the table). It runs with foreign keys
** off (rs_sqlite.c switches them on after migrating) and ends with a foreign_key_check.
**   trials.rung    pruned/paused: the band (W&B hyperband: iterations of the sweep metric) or
**                  rung (steps) of the decision; NULL otherwise
**   trials.promoted_step  the checkpoint step its latest promotion resumed from (a claim of a
**                  trial whose checkpoint is still there knows the rung was passed already)
**   events.detail  prune, pause, promote: the decision's numbers as a JSON object, e.g.
**                  {"band": 3, "threshold": 8, "n": 2, "value": 10} */
#define RS_SCHEMA_V3 \
  "DROP VIEW IF EXISTS trials_view;\n" \
  "DROP VIEW IF EXISTS trial_params;\n" \
  "DROP TRIGGER IF EXISTS trial_counts_insert;\n" \
  "DROP TRIGGER IF EXISTS trial_counts_update;\n" \
  "DROP TRIGGER IF EXISTS trial_counts_delete;\n" \
  "CREATE TABLE new_trials (\n" \
  "  id INTEGER PRIMARY KEY,\n" \
  "  sweep_id INTEGER NOT NULL REFERENCES sweeps(id),\n" \
  "  idx INTEGER NOT NULL,\n" \
  "  hash TEXT NOT NULL,\n" \
  "  config TEXT NOT NULL,\n" \
  "  params TEXT NOT NULL,\n" \
  "  seed INTEGER NOT NULL,\n" \
  "  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN\n" \
  "    ('pending','running','completed','failed','diverged','interrupted','pruned','paused')),\n" \
  "  attempts INTEGER NOT NULL DEFAULT 0,\n" \
  "  worker TEXT,\n" \
  "  lease_until REAL,\n" \
  "  claim_token INTEGER NOT NULL DEFAULT 0,\n" \
  "  started REAL,\n" \
  "  ended REAL,\n" \
  "  final_metric REAL,\n" \
  "  best_metric REAL,\n" \
  "  best_step INTEGER,\n" \
  "  steps INTEGER,\n" \
  "  tokens INTEGER,\n" \
  "  wall_seconds REAL,\n" \
  "  flops REAL,\n" \
  "  summary TEXT,\n" \
  "  error TEXT,                       -- failed/diverged/pruned: the reason (and last log lines)\n" \
  "  checkpoint TEXT,\n" \
  "  checkpoint_step INTEGER,\n" \
  "  failures INTEGER NOT NULL DEFAULT 0,\n" \
  "  reclaims INTEGER NOT NULL DEFAULT 0,\n" \
  "  no_retry INTEGER NOT NULL DEFAULT 0,\n" \
  "  heartbeat REAL,\n" \
  "  rung INTEGER,                     -- pruned/paused: band (iterations) or rung (steps) of the decision\n" \
  "  promoted_step INTEGER,            -- the checkpoint step its latest promotion resumed from\n" \
  "  UNIQUE (sweep_id, hash)\n" \
  ");\n" \
  "INSERT INTO new_trials (id, sweep_id, idx, hash, config, params, seed, status, attempts, worker,\n" \
  "  lease_until, claim_token, started, ended, final_metric, best_metric, best_step, steps, tokens,\n" \
  "  wall_seconds, flops, summary, error, checkpoint, checkpoint_step, failures, reclaims, no_retry,\n" \
  "  heartbeat)\n" \
  "  SELECT id, sweep_id, idx, hash, config, params, seed, status, attempts, worker,\n" \
  "  lease_until, claim_token, started, ended, final_metric, best_metric, best_step, steps, tokens,\n" \
  "  wall_seconds, flops, summary, error, checkpoint, checkpoint_step, failures, reclaims, no_retry,\n" \
  "  heartbeat FROM trials;\n" \
  "DROP TABLE trials;\n" \
  "ALTER TABLE new_trials RENAME TO trials;\n" \
  "CREATE INDEX trials_claim ON trials (sweep_id, status, idx);\n" \
  "CREATE TRIGGER trial_counts_insert AFTER INSERT ON trials BEGIN\n" \
  "  INSERT INTO trial_counts (sweep_id, status, n) VALUES (NEW.sweep_id, NEW.status, 1)\n" \
  "    ON CONFLICT (sweep_id, status) DO UPDATE SET n = n + 1;\n" \
  "END;\n" \
  "CREATE TRIGGER trial_counts_update AFTER UPDATE OF sweep_id, status ON trials\n" \
  "  WHEN OLD.status IS NOT NEW.status OR OLD.sweep_id IS NOT NEW.sweep_id BEGIN\n" \
  "  UPDATE trial_counts SET n = n - 1 WHERE sweep_id = OLD.sweep_id AND status = OLD.status;\n" \
  "  INSERT INTO trial_counts (sweep_id, status, n) VALUES (NEW.sweep_id, NEW.status, 1)\n" \
  "    ON CONFLICT (sweep_id, status) DO UPDATE SET n = n + 1;\n" \
  "END;\n" \
  "CREATE TRIGGER trial_counts_delete AFTER DELETE ON trials BEGIN\n" \
  "  UPDATE trial_counts SET n = n - 1 WHERE sweep_id = OLD.sweep_id AND status = OLD.status;\n" \
  "END;\n" \
  "CREATE VIEW trial_params AS\n" \
  "  SELECT t.id AS trial_id, t.sweep_id AS sweep_id, j.key AS name, j.value AS value\n" \
  "  FROM trials t, json_each(t.params) j;\n" \
  "CREATE VIEW trials_view AS\n" \
  "  SELECT s.name AS sweep, t.id AS trial, t.idx, t.status, t.seed, t.params,\n" \
  "         t.best_metric, t.final_metric, t.best_step, t.steps, t.tokens, t.wall_seconds, t.error,\n" \
  "         t.rung\n" \
  "  FROM trials t JOIN sweeps s ON s.id = t.sweep_id;\n" \
  "ALTER TABLE events ADD COLUMN detail TEXT;\n"

/* Version 4 (from 3): trials.owner, beside worker ("HOST:PID" of the runner holding the claim):
** "BOOT_ID PIDNS START", the kernel's boot id (/proc/sys/kernel/random/boot_id), the runner's pid
** namespace (the inode of /proc/self/ns/pid) and its start time (clock ticks after boot, field 22
** of /proc/PID/stat); NULL when unknown (a configured worker name, another OS). A runner on the
** same host, boot and pid namespace whose owner's pid is gone or started at another time knows
** the owner died and ends its lease at once (rs_trials_expire_dead). */
#define RS_SCHEMA_V4 "ALTER TABLE trials ADD COLUMN owner TEXT;\n"

#endif
