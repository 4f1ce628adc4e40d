/* rs_sqlite.c: the SQLite backend of the store (see rs_store.h for the contract).
**
** Concurrency: one connection per handle, WAL journal (readers and one writer
** run side by side), busy_timeout 10 s, and every operation is a transaction
** function run by sq_txn(): writes take the write lock up front (BEGIN
** IMMEDIATE, so a read never has to upgrade and deadlock), and on SQLITE_BUSY /
** LOCKED anywhere the transaction is rolled back and re-run after a jittered
** backoff, for RS_BUSY_BUDGET seconds in all. Transaction functions therefore
** must not have side effects outside the database except filling their outputs.
**
** Durability: synchronous=FULL for state changes (the WAL is fsynced at commit:
** survives power loss), NORMAL for metrics, heartbeats and events (WAL content
** is in the OS cache at commit: survives kill -9, a power loss may drop the last
** few). The pragma is switched per transaction.
*/
#include "rs_backend.h"
#include "rs_schema.h"
#include "rs_sqlite_vfs.h"
#include "tr_alloc.h"
#include "tr_os.h"
#include "tr_rng.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SQ_BUSY_TIMEOUT_MS 10000

typedef struct Sq {
  sqlite3 *db;
  int last_rc;   /* extended code of the last SQLite failure (retry decisions) */
  int sync_full; /* current PRAGMA synchronous: 1 FULL, 0 NORMAL, -1 unknown */
  int version;   /* schema version of the file (reads of a read-only v1 file skip v2 columns) */
  int snapshot;  /* a read transaction opened by rs_store_snapshot_begin is open */
  TrRng rng;     /* backoff jitter, so colliding writers spread out */
} Sq;

enum { SQ_READ, SQ_WRITE, SQ_DURABLE }; /* transaction kinds */

static Sq *sq_of(RsStore *st) { return (Sq *)st->impl; }

static int sq_fail(RsStore *st, int rc, const char *what) {
  Sq *sq = sq_of(st);
  sq->last_rc = rc;
  const char *m = sq->db ? sqlite3_errmsg(sq->db) : sqlite3_errstr(rc);
  if (rc == SQLITE_READONLY_DBMOVED) /* SQLite's own text ("readonly database") misleads */
    return rs_store_fail(st, TR_EDB, "%s: the database file was moved or deleted while in use", what);
  if ((rc & 0xff) == SQLITE_NOMEM) /* whatever text SQLite left ("unable to open a temporary database ...") */
    return rs_store_fail(st, TR_ENOMEM, "%s: out of memory", what);
  return rs_store_fail(st, TR_EDB, "%s: %s", what, m);
}

static int sq_exec(RsStore *st, const char *sql, const char *what) {
  int rc = sqlite3_exec(sq_of(st)->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? TR_OK : sq_fail(st, rc, what);
}

static int sq_prep(RsStore *st, const char *sql, sqlite3_stmt **s, const char *what) {
  int rc = sqlite3_prepare_v2(sq_of(st)->db, sql, -1, s, NULL);
  return rc == SQLITE_OK ? TR_OK : sq_fail(st, rc, what);
}

/* One step expecting no row (DONE); finalizes nothing. */
static int sq_done(RsStore *st, sqlite3_stmt *s, const char *what) {
  int rc = sqlite3_step(s);
  return rc == SQLITE_DONE ? TR_OK : sq_fail(st, rc, what);
}

/* sq_done, then finalize: the end of a one-shot statement. */
static int sq_done_final(RsStore *st, sqlite3_stmt *s, const char *what) {
  int rc = sq_done(st, s, what);
  sqlite3_finalize(s);
  return rc;
}

/* Room for element n of the growing array v (capacity *cap, `first` elements at first). Returns the
** array, moved or not; out of memory, v unchanged and *rc = "what: out of memory". */
static void *sq_grow(RsStore *st, void *v, size_t n, size_t *cap, size_t size, size_t first, const char *what,
                     int *rc) {
  if (n < *cap) return v;
  size_t c = *cap ? 2 * *cap : first;
  void *nv = tr_realloc(v, c * size);
  if (!nv) {
    *rc = rs_store_fail(st, TR_ENOMEM, "%s: out of memory", what);
    return v;
  }
  *cap = c;
  return nv;
}

/* SQLITE_STATIC: no copy, so no allocation that could fail unseen (a failed bind leaves the
** parameter NULL and the statement runs anyway). Every statement here is stepped and
** finalized (or rebound) within the function that binds it, while v lives. */
static void bind_text(sqlite3_stmt *s, int i, const char *v) {
  if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
  else sqlite3_bind_null(s, i);
}

static void bind_real(sqlite3_stmt *s, int i, double v) {
  if (isnan(v)) sqlite3_bind_null(s, i);
  else sqlite3_bind_double(s, i, v);
}

static char *col_text(sqlite3_stmt *s, int i, int *oom) {
  return rs_strdup((const char *)sqlite3_column_text(s, i), oom);
}

static double col_real(sqlite3_stmt *s, int i) {
  return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

static int64_t col_int(sqlite3_stmt *s, int i) {
  return sqlite3_column_type(s, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, i);
}

static int is_busy(int rc) {
  rc &= 0xff;
  return rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_PROTOCOL;
}

typedef int (*SqBody)(RsStore *st, void *arg);
static const RsStoreOps sq_ops; /* below */

/* Run body inside a transaction of the given kind, re-running it on lock contention. */
static int sq_txn(RsStore *st, int kind, SqBody body, void *arg) {
  Sq *sq = sq_of(st);
  double deadline = tr_clock_mono() + RS_BUSY_BUDGET, pause = 0.002;
  if (sq->snapshot) return body(st, arg); /* reads inside the caller's snapshot */
  for (;;) {
    int rc = TR_OK;
    sq->last_rc = SQLITE_OK;
    if (kind != SQ_READ && sq->sync_full != (kind == SQ_DURABLE)) {
      rc = sq_exec(st, kind == SQ_DURABLE ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                   "set synchronous");
      if (rc == TR_OK) sq->sync_full = (kind == SQ_DURABLE);
    }
    if (rc == TR_OK) rc = sq_exec(st, kind == SQ_READ ? "BEGIN" : "BEGIN IMMEDIATE", "begin");
    if (rc == TR_OK) rc = body(st, arg);
    /* SQLite rolls a transaction back on its own after some errors (out of memory, disk
    ** full): a body that reached here without seeing one must not have its COMMIT fail on
    ** "no transaction is active" (a defect: an error went unchecked); say what it was. */
    if (rc == TR_OK && sqlite3_get_autocommit(sq->db))
      rc = sq_fail(st, sqlite3_extended_errcode(sq->db), "transaction rolled back");
    if (rc == TR_OK) rc = sq_exec(st, "COMMIT", "commit");
    if (!sqlite3_get_autocommit(sq->db)) sqlite3_exec(sq->db, "ROLLBACK", NULL, NULL, NULL);
    if (rc == TR_OK) {
      st->errcode = TR_OK;
      return TR_OK;
    }
    if (rc != TR_EDB || !is_busy(sq->last_rc)) return rc;
    if (tr_clock_mono() >= deadline)
      return rs_store_fail(st, TR_EDB,
                           "database stayed locked for %.0f s (an open write transaction in "
                           "another program, e.g. an sqlite3 shell?)",
                           RS_BUSY_BUDGET);
    double wait = pause * (0.5 + tr_rng_uniform(&sq->rng));
    struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
    nanosleep(&ts, NULL);
    pause = pause * 2 < 0.25 ? pause * 2 : 0.25;
  }
}

/* An event; detail (a JSON object, v3) may be NULL: the statement then names no v3 column,
** so the migration's own event works on every version. */
static int event_insert_detail(RsStore *st, int64_t sweep_id, int64_t trial_id, const char *kind,
                               const char *message, const char *detail) {
  sqlite3_stmt *s;
  int rc = sq_prep(st, detail ? "INSERT INTO events (sweep_id, trial_id, time, kind, message, detail) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                              : "INSERT INTO events (sweep_id, trial_id, time, kind, message) "
                                "VALUES (?1, ?2, ?3, ?4, ?5)", &s, "log event");
  if (rc) return rc;
  if (sweep_id > 0) sqlite3_bind_int64(s, 1, sweep_id);
  if (trial_id > 0) sqlite3_bind_int64(s, 2, trial_id);
  sqlite3_bind_double(s, 3, rs_store_now(st));
  bind_text(s, 4, kind);
  bind_text(s, 5, message);
  if (detail) bind_text(s, 6, detail);
  return sq_done_final(st, s, "log event");
}

static int event_insert(RsStore *st, int64_t sweep_id, int64_t trial_id, const char *kind,
                        const char *message) {
  return event_insert_detail(st, sweep_id, trial_id, kind, message, NULL);
}

/* ---- open, schema, migrations ---- */

typedef struct Inspect {
  int64_t app_id, version, n_objects;
} Inspect;

static int inspect_body(RsStore *st, void *arg) {
  Inspect *in = arg;
  sqlite3_stmt *s;
  int rc = sq_prep(st, "SELECT (SELECT application_id FROM pragma_application_id), "
                       "(SELECT user_version FROM pragma_user_version), "
                       "(SELECT count(*) FROM sqlite_master)", &s, "read header");
  if (rc) return rc;
  int r = sqlite3_step(s);
  if (r == SQLITE_ROW) {
    in->app_id = sqlite3_column_int64(s, 0);
    in->version = sqlite3_column_int64(s, 1);
    in->n_objects = sqlite3_column_int64(s, 2);
    rc = TR_OK;
  } else {
    rc = sq_fail(st, r, "read header");
  }
  sqlite3_finalize(s);
  return rc;
}

/* Migrations: migrations[v] takes a database from version v to v + 1. Version 0
** is an empty file; later versions append here and bump RS_SCHEMA_VERSION. */
static const char *const migrations[RS_SCHEMA_VERSION] = {RS_SCHEMA_V1, RS_SCHEMA_V2 RS_SCHEMA_V2_SCALE,
                                                           RS_SCHEMA_V3, RS_SCHEMA_V4};

/* After a table rebuild (v3): every reference into trials still resolves. */
static int migrate_fk_check(RsStore *st) {
  sqlite3_stmt *s;
  int rc = sq_prep(st, "PRAGMA foreign_key_check", &s, "migrate: foreign key check");
  if (rc) return rc;
  int r = sqlite3_step(s);
  if (r == SQLITE_ROW)
    rc = rs_store_fail(st, TR_EFORMAT, "migrate: table %s row %lld refers to a missing row of %s: nothing migrated",
                       (const char *)sqlite3_column_text(s, 0), (long long)sqlite3_column_int64(s, 1),
                       (const char *)sqlite3_column_text(s, 2));
  else if (r != SQLITE_DONE)
    rc = sq_fail(st, r, "migrate: foreign key check");
  sqlite3_finalize(s);
  return rc;
}

static int migrate_body(RsStore *st, void *arg) {
  (void)arg;
  Inspect in;
  int rc = inspect_body(st, &in); /* again, under the write lock: another process may have won */
  if (rc) return rc;
  if (in.app_id == 0 && in.version == 0 && in.n_objects > 0)
    return rs_store_fail(st, TR_EFORMAT, "not an hpsweep database (an SQLite database of another program)");
  for (int64_t v = in.version; v < RS_SCHEMA_VERSION; v++) {
    char what[64];
    snprintf(what, sizeof what, "migrate schema to version %lld", (long long)v + 1);
    if ((rc = sq_exec(st, migrations[v], what))) return rc;
  }
  if (in.version < RS_SCHEMA_VERSION && (rc = migrate_fk_check(st))) return rc;
  if (in.version < RS_SCHEMA_VERSION) {
    char sql[128];
    snprintf(sql, sizeof sql, "PRAGMA application_id=%d; PRAGMA user_version=%d", RS_APPLICATION_ID,
             RS_SCHEMA_VERSION);
    if ((rc = sq_exec(st, sql, "set schema version"))) return rc;
    char msg[64];
    snprintf(msg, sizeof msg, "%s (schema version %d)", in.version == 0 ? "database created" : "schema migrated",
             RS_SCHEMA_VERSION);
    rc = event_insert(st, 0, 0, in.version == 0 ? "create" : "migrate", msg);
  }
  return rc;
}

static void sq_close(RsStore *st) {
  Sq *sq = sq_of(st);
  if (!sq) return;
  sqlite3_close_v2(sq->db);
  free(sq);
  st->impl = NULL;
}

sqlite3 *rs_sqlite_db(RsStore *st) { return st && st->ops == &sq_ops ? sq_of(st)->db : NULL; }

/* Is the (existing, non-empty) file an SQLite 3 database? Read 16 bytes; touch nothing. */
static int has_sqlite_magic(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  char head[16];
  size_t n = fread(head, 1, sizeof head, f);
  fclose(f);
  return n == sizeof head && memcmp(head, "SQLite format 3", 16) == 0;
}

/* A new file's directory must exist: SQLite would say only "unable to open database file". */
static int dir_check(const char *path, TrErr *err) {
  const char *slash = strrchr(path, '/');
  if (!slash) return TR_OK;
  size_t n = slash == path ? 1 : (size_t)(slash - path);
  char *dir = tr_malloc(n + 1);
  if (!dir) return tr_err_set(err, TR_ENOMEM, "%s: out of memory", path);
  memcpy(dir, path, n);
  dir[n] = '\0';
  struct stat sb;
  int rc = TR_OK;
  if (stat(dir, &sb) != 0)
    rc = errno == ENOENT ? tr_err_set(err, TR_EIO, "%s: directory %s does not exist", path, dir)
                         : tr_err_set(err, TR_EIO, "%s: directory %s: %s", path, dir, strerror(errno));
  else if (!S_ISDIR(sb.st_mode))
    rc = tr_err_set(err, TR_EIO, "%s: %s is not a directory", path, dir);
  free(dir);
  return rc;
}

/* Can a read-only open not create the -shm file WAL needs (a read-only directory: an
** archive), with no -shm there (a live writer always has one) and no WAL content
** pending? Then nobody can change the file under us: open it immutable (no locks, no
** -shm). Otherwise the normal way, which reads through an existing -shm. */
static int sq_wants_immutable(const char *path) {
  size_t n = strlen(path);
  char *buf = tr_malloc(n + 8);
  if (!buf) return 0;
  memcpy(buf, path, n + 1);
  char *slash = strrchr(buf, '/');
  const char *dir = slash ? (slash == buf ? "/" : (*slash = '\0', buf)) : ".";
  int dir_ro = faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS) != 0 && errno != ENOENT;
  struct stat sb;
  snprintf(buf, n + 8, "%s-shm", path);
  int shm = stat(buf, &sb) == 0;
  snprintf(buf, n + 8, "%s-wal", path);
  int wal = stat(buf, &sb) == 0 && sb.st_size > 0;
  free(buf);
  return dir_ro && !shm && !wal;
}

/* "file:PATH?immutable=1" with PATH percent-encoded; NULL when out of memory. */
static char *sq_immutable_uri(const char *path) {
  size_t n = strlen(path);
  char *u = tr_malloc(3 * n + 32), *o = u;
  if (!u) return NULL;
  o += sprintf(o, "file:");
  for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
    if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("/-._~", *c))
      *o++ = (char)*c;
    else o += sprintf(o, "%%%02X", *c);
  }
  strcpy(o, "?immutable=1");
  return u;
}

/* Before SQLite sees the path: it exists (unless created), is a regular file, and is an
** SQLite file; SQLite's own messages for these are vague. */
static int sq_file_check(const char *path, int flags, int *exists, TrErr *err) {
  struct stat sb;
  *exists = stat(path, &sb) == 0;
  if (!*exists && errno != ENOENT && errno != ENOTDIR) return tr_err_set(err, TR_EIO, "%s: %s", path, strerror(errno));
  if (!*exists && flags != RS_OPEN_CREATE) return tr_err_set(err, TR_ENOTFOUND, "%s: no such database file", path);
  if (!*exists) return dir_check(path, err);
  if (!S_ISREG(sb.st_mode)) return tr_err_set(err, TR_EINVAL, "%s: not a regular file", path);
  if (sb.st_size > 0) {
    int m = has_sqlite_magic(path);
    if (m < 0) return tr_err_set(err, TR_EIO, "%s: %s", path, strerror(errno));
    if (m == 0) return tr_err_set(err, TR_EFORMAT, "%s: not an SQLite database", path);
  }
  return TR_OK;
}

/* Is the file ours, and can this build read (or write) its schema version? */
static int sq_identity_check(RsStore *st, const Inspect *in, int flags) {
  if (in->app_id != RS_APPLICATION_ID && !(in->app_id == 0 && in->version == 0 && in->n_objects == 0))
    return rs_store_fail(st, TR_EFORMAT, "not an hpsweep database (an SQLite database of another program)");
  if (in->version > RS_SCHEMA_VERSION)
    return rs_store_fail(st, TR_EFORMAT,
                         "written by a newer hpsweep (schema version %lld; this build knows up to %d): "
                         "upgrade hpsweep",
                         (long long)in->version, RS_SCHEMA_VERSION);
  if (in->version < 1 && flags == RS_OPEN_READONLY) /* a v1 file is read as it is (no v2 columns) */
    return in->n_objects == 0
               ? rs_store_fail(st, TR_EFORMAT, "empty file, not an hpsweep database")
               : rs_store_fail(st, TR_EFORMAT,
                               "schema version %lld is older than %d: open it once read-write to migrate",
                               (long long)in->version, RS_SCHEMA_VERSION);
  return TR_OK;
}

/* A writer's connection: WAL (waiting out a busy file), foreign keys, the schema migrated. */
static int sq_writer_setup(RsStore *st, const Inspect *in) {
  /* WAL is persistent in the file; setting it again is a no-op. */
  sqlite3_stmt *s;
  int rc, code = sq_prep(st, "PRAGMA journal_mode=WAL", &s, "set WAL mode");
  if (code) return code;
  double deadline = tr_clock_mono() + RS_BUSY_BUDGET;
  while ((rc = sqlite3_step(s)) != SQLITE_ROW && is_busy(rc) && tr_clock_mono() < deadline) {
    sqlite3_reset(s);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  if (rc != SQLITE_ROW) code = sq_fail(st, rc, "set WAL mode");
  else if (sqlite3_strnicmp((const char *)sqlite3_column_text(s, 0), "wal", 3) != 0)
    code = rs_store_fail(st, TR_EDB, "cannot use WAL mode on this file system (journal mode %s)",
                         (const char *)sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  /* Foreign keys on only after migrating: the v3 table rebuild drops trials, which metrics
  ** and events refer to (the documented procedure; migrate_body checks them at its end). */
  if (!code && in->version < RS_SCHEMA_VERSION) code = sq_txn(st, SQ_DURABLE, migrate_body, NULL);
  if (!code) code = sq_exec(st, "PRAGMA foreign_keys=ON", "enable foreign keys");
  return code;
}

/* RS_OPEN_KEEP_WAL: no checkpoint at close (SQLite's last-connection checkpoint), and the
** WAL file is kept rather than deleted and re-created by the next open. */
static void sq_keep_wal(Sq *sq) {
  int one = 1;
  sqlite3_db_config(sq->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
  sqlite3_file_control(sq->db, "main", SQLITE_FCNTL_PERSIST_WAL, &one);
}

/* ---- SQLite's allocations through tr_alloc (its out-of-memory tests) ----
** SQLITE_CONFIG_MALLOC before sqlite3_initialize; each block carries its size in an
** 8-byte header (SQLite needs xSize and 8-byte alignment), as SQLite's own mem1.c does. */

static void *sq_mem_malloc(int n) {
  int64_t *p = tr_malloc((size_t)n + 8);
  if (!p) return NULL;
  p[0] = n;
  return p + 1;
}

static void sq_mem_free(void *p) {
  if (p) free((int64_t *)p - 1);
}

static void *sq_mem_realloc(void *p, int n) {
  int64_t *q = tr_realloc((int64_t *)p - 1, (size_t)n + 8);
  if (!q) return NULL;
  q[0] = n;
  return q + 1;
}

static int sq_mem_size(void *p) { return p ? (int)((int64_t *)p)[-1] : 0; }
static int sq_mem_roundup(int n) { return (n + 7) & ~7; }
static int sq_mem_init(void *unused) { (void)unused; return SQLITE_OK; }
static void sq_mem_shutdown(void *unused) { (void)unused; }

/* Fails (harmlessly: SQLite keeps its own allocator) when something initialized
** SQLite before the first store was opened, as a test that calls sqlite3 itself may. */
static void sq_mem_install(void) {
  static const sqlite3_mem_methods m = {sq_mem_malloc, sq_mem_free, sq_mem_realloc, sq_mem_size,
                                        sq_mem_roundup, sq_mem_init, sq_mem_shutdown, NULL};
  sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
}

int rs_sqlite_open(RsStore *st, const char *path, int flags, TrErr *err) {
  static pthread_once_t mem_once = PTHREAD_ONCE_INIT;
  pthread_once(&mem_once, sq_mem_install);
  int keep_wal = (flags & RS_OPEN_KEEP_WAL) != 0;
  flags &= ~RS_OPEN_MODIFIERS;
  int exists, rc = sq_file_check(path, flags, &exists, err);
  if (!rc) rc = rs_sqlite_vfs_install(err); /* HPS_TEST_VFS_FAIL only */
  if (rc) return rc;
  Sq *sq = tr_calloc(1, sizeof *sq);
  if (!sq) return tr_err_set(err, TR_ENOMEM, "%s: out of memory", path);
  sq->sync_full = -1;
  tr_rng_seed2(&sq->rng, (uint64_t)getpid(), (uint64_t)(tr_clock_mono() * 1e6));
  st->impl = sq;
  st->ops = &sq_ops;
  int oflags = flags == RS_OPEN_READONLY ? SQLITE_OPEN_READONLY
                                         : SQLITE_OPEN_READWRITE | (flags == RS_OPEN_CREATE ? SQLITE_OPEN_CREATE : 0);
  char *uri = flags == RS_OPEN_READONLY && exists && sq_wants_immutable(path) ? sq_immutable_uri(path) : NULL;
  rc = sqlite3_open_v2(uri ? uri : path, &sq->db, oflags | (uri ? SQLITE_OPEN_URI : 0), NULL);
  free(uri);
  int code = TR_OK;
  Inspect in = {0, 0, 0};
  if (rc != SQLITE_OK) {
    code = sq_fail(st, rc, "open");
  } else {
    sqlite3_extended_result_codes(sq->db, 1);
    sqlite3_busy_timeout(sq->db, SQ_BUSY_TIMEOUT_MS);
    code = sq_txn(st, SQ_READ, inspect_body, &in);
    if (code && (sq->last_rc & 0xff) == SQLITE_NOTADB)
      code = rs_store_fail(st, TR_EFORMAT, "not an SQLite database");
  }
  if (!code) code = sq_identity_check(st, &in, flags);
  if (!code && flags != RS_OPEN_READONLY) code = sq_writer_setup(st, &in);
  if (!code && keep_wal && flags != RS_OPEN_READONLY) sq_keep_wal(sq);
  sq->version = flags == RS_OPEN_READONLY ? (int)in.version : RS_SCHEMA_VERSION;
  if (code) {
    tr_err_set(err, code, "%s", st->errmsg);
    sq_close(st);
    st->ops = NULL;
    return code;
  }
  return TR_OK;
}

/* ---- sweeps ---- */

typedef struct SweepArgs {
  const char *name, *spec, *hash, *method, *metric, *goal, *task;
  int64_t seed, id;
} SweepArgs;

static int upsert_body(RsStore *st, void *arg) {
  SweepArgs *a = arg;
  sqlite3_stmt *s;
  int rc = sq_prep(st, "SELECT id, spec_hash, metric, goal, method, task FROM sweeps WHERE name = ?1", &s,
                   "find sweep");
  if (rc) return rc;
  bind_text(s, 1, a->name);
  int r = sqlite3_step(s);
  if (r == SQLITE_ROW) {
    a->id = sqlite3_column_int64(s, 0);
    const char *old = (const char *)sqlite3_column_text(s, 1), *metric = (const char *)sqlite3_column_text(s, 2),
               *goal = (const char *)sqlite3_column_text(s, 3), *method = (const char *)sqlite3_column_text(s, 4),
               *task = (const char *)sqlite3_column_text(s, 5);
    if (strcmp(old, a->hash) != 0)
      rc = rs_store_fail(st, TR_EINVAL,
                         "sweep '%s' already exists with a different trial set (spec hash %s, now %s): "
                         "the spec changed; give the sweep a new name or use another --db",
                         a->name, old, a->hash);
    else if (strcmp(metric, a->metric) || strcmp(goal, a->goal) || strcmp(method, a->method) ||
             strcmp(task ? task : "train", a->task))
      rc = rs_store_fail(st, TR_EINVAL,
                         "sweep '%s' already exists with metric %s (%s), method %s, task %s; now %s (%s), %s, %s: "
                         "the spec changed; give the sweep a new name or use another --db",
                         a->name, metric, goal, method, task ? task : "train", a->metric, a->goal, a->method,
                         a->task);
    sqlite3_finalize(s);
    return rc;
  }
  sqlite3_finalize(s);
  if (r != SQLITE_DONE) return sq_fail(st, r, "find sweep");
  rc = sq_prep(st, "INSERT INTO sweeps (name, spec, spec_hash, method, metric, goal, seed, task, created) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", &s, "create sweep");
  if (rc) return rc;
  bind_text(s, 1, a->name);
  bind_text(s, 2, a->spec);
  bind_text(s, 3, a->hash);
  bind_text(s, 4, a->method);
  bind_text(s, 5, a->metric);
  bind_text(s, 6, a->goal);
  sqlite3_bind_int64(s, 7, a->seed);
  bind_text(s, 8, a->task);
  sqlite3_bind_double(s, 9, rs_store_now(st));
  rc = sq_done_final(st, s, "create sweep");
  if (rc) return rc;
  a->id = sqlite3_last_insert_rowid(sq_of(st)->db);
  return event_insert(st, a->id, 0, "create", a->name);
}

static int sq_sweep_upsert(RsStore *st, const char *name, const char *spec_text, const char *spec_hash,
                           const char *method, const char *metric, const char *goal, int64_t seed,
                           const char *task, int64_t *sweep_id) {
  SweepArgs a = {name, spec_text, spec_hash, method, metric, goal, task, seed, 0};
  int rc = sq_txn(st, SQ_DURABLE, upsert_body, &a);
  if (rc == TR_OK) *sweep_id = a.id;
  return rc;
}

#define SWEEP_COLS "id, name, spec, spec_hash, method, metric, goal, seed, task, created"

static int sweep_row(sqlite3_stmt *s, RsSweep *o) {
  int oom = 0;
  o->id = sqlite3_column_int64(s, 0);
  o->name = col_text(s, 1, &oom);
  o->spec = col_text(s, 2, &oom);
  o->spec_hash = col_text(s, 3, &oom);
  o->method = col_text(s, 4, &oom);
  o->metric = col_text(s, 5, &oom);
  o->goal = col_text(s, 6, &oom);
  o->seed = col_int(s, 7);
  o->task = col_text(s, 8, &oom);
  o->created = col_real(s, 9);
  return oom;
}

typedef struct SweepGet {
  const char *name;
  RsSweep *out;
} SweepGet;

static int sweep_get_body(RsStore *st, void *arg) {
  SweepGet *g = arg;
  rs_sweep_clear(g->out);
  sqlite3_stmt *s;
  int rc = sq_prep(st, "SELECT " SWEEP_COLS " FROM sweeps WHERE name = ?1", &s, "get sweep");
  if (rc) return rc;
  bind_text(s, 1, g->name);
  int r = sqlite3_step(s);
  if (r == SQLITE_ROW) rc = sweep_row(s, g->out) ? rs_store_fail(st, TR_ENOMEM, "get sweep: out of memory") : TR_OK;
  else if (r == SQLITE_DONE) rc = rs_store_fail(st, TR_ENOTFOUND, "no sweep named '%s'", g->name);
  else rc = sq_fail(st, r, "get sweep");
  sqlite3_finalize(s);
  return rc;
}

static int sq_sweep_get(RsStore *st, const char *name, RsSweep *out) {
  SweepGet g = {name, out};
  int rc = sq_txn(st, SQ_READ, sweep_get_body, &g);
  if (rc) rs_sweep_clear(out);
  return rc;
}

/* One statement with ?1 bound to an id, run to completion. */
static int exec_id(RsStore *st, const char *sql, int64_t id, const char *what) {
  sqlite3_stmt *s;
  int rc = sq_prep(st, sql, &s, what);
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, id);
  return sq_done_final(st, s, what);
}

/* The first column of the first row of sql with ?1 = id, ?2 = x, as an integer. */
static int query_id(RsStore *st, const char *sql, int64_t id, double x, int64_t *out, const char *what) {
  sqlite3_stmt *s;
  int rc = sq_prep(st, sql, &s, what);
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, id);
  if (sqlite3_bind_parameter_count(s) >= 2) sqlite3_bind_double(s, 2, x);
  int r = sqlite3_step(s);
  if (r == SQLITE_ROW) *out = sqlite3_column_int64(s, 0);
  else rc = r == SQLITE_DONE ? rs_store_fail(st, TR_ENOTFOUND, "%s: no row", what) : sq_fail(st, r, what);
  sqlite3_finalize(s);
  return rc;
}

/* The id of the sweep named `name`; TR_ENOTFOUND "no sweep named 'X'" if none. */
static int sweep_id_of(RsStore *st, const char *name, int64_t *id) {
  sqlite3_stmt *s;
  int rc = sq_prep(st, "SELECT id FROM sweeps WHERE name = ?1", &s, "find sweep");
  if (rc) return rc;
  bind_text(s, 1, name);
  int r = sqlite3_step(s);
  *id = r == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  if (r == SQLITE_DONE) return rs_store_fail(st, TR_ENOTFOUND, "no sweep named '%s'", name);
  return r == SQLITE_ROW ? TR_OK : sq_fail(st, r, "find sweep");
}

typedef struct DeleteArgs {
  const char *name;
  int64_t n;
  int quiet; /* no "delete" event (a copy's replace logs its own after its rows) */
} DeleteArgs;

static int delete_body(RsStore *st, void *arg) {
  DeleteArgs *a = arg;
  int64_t id, live;
  int rc = sweep_id_of(st, a->name, &id);
  if (rc) return rc;
  if ((rc = query_id(st, "SELECT count(*) FROM trials WHERE sweep_id = ?1 AND status = 'running' AND "
                         "lease_until > ?2", id, rs_store_now(st), &live, "count running trials")))
    return rc;
  if (live > 0)
    return rs_store_fail(st, TR_EINVAL, "sweep '%s': %lld trials are running under a live lease (another "
                         "hpsweep run?): stop it first, nothing was deleted", a->name, (long long)live);
  if ((rc = query_id(st, "SELECT count(*) FROM trials WHERE sweep_id = ?1", id, 0, &a->n, "count trials")) ||
      (rc = exec_id(st, "DELETE FROM metrics WHERE trial_id IN (SELECT id FROM trials WHERE sweep_id = ?1)", id,
                    "delete metrics")) ||
      (rc = exec_id(st, "DELETE FROM events WHERE sweep_id = ?1 OR trial_id IN "
                        "(SELECT id FROM trials WHERE sweep_id = ?1)", id, "delete events")) ||
      (rc = exec_id(st, "DELETE FROM trials WHERE sweep_id = ?1", id, "delete trials")) ||
      (rc = exec_id(st, "DELETE FROM sweeps WHERE id = ?1", id, "delete sweep")))
    return rc;
  if (a->quiet) return TR_OK;
  char msg[300];
  snprintf(msg, sizeof msg, "sweep '%.200s' deleted with its %lld trials", a->name, (long long)a->n);
  return event_insert(st, 0, 0, "delete", msg);
}

static int sq_sweep_delete(RsStore *st, const char *name, int64_t *n_trials) {
  DeleteArgs a = {name, 0, 0};
  int rc = sq_txn(st, SQ_DURABLE, delete_body, &a);
  if (rc == TR_OK) *n_trials = a.n;
  return rc;
}

typedef struct KeysArgs {
  int64_t sweep_id;
  RsTrialKey *v;
  size_t n;
} KeysArgs;

static int keys_body(RsStore *st, void *arg) {
  KeysArgs *a = arg;
  free(a->v);
  a->v = NULL;
  a->n = 0;
  sqlite3_stmt *s;
  int rc = sq_prep(st, "SELECT id, idx, hash FROM trials WHERE sweep_id = ?1 ORDER BY idx", &s, "read trials");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, a->sweep_id);
  size_t cap = 0;
  int r;
  while ((r = sqlite3_step(s)) == SQLITE_ROW) {
    a->v = sq_grow(st, a->v, a->n, &cap, sizeof *a->v, 256, "read trials", &rc);
    if (rc) break;
    RsTrialKey *k = &a->v[a->n++];
    k->id = sqlite3_column_int64(s, 0);
    k->idx = sqlite3_column_int(s, 1);
    snprintf(k->hash, sizeof k->hash, "%s", sqlite3_column_text(s, 2) ? (const char *)sqlite3_column_text(s, 2) : "");
  }
  if (!rc && r != SQLITE_DONE) rc = sq_fail(st, r, "read trials");
  sqlite3_finalize(s);
  return rc;
}

static int sq_trial_keys(RsStore *st, int64_t sweep_id, RsTrialKey **out, size_t *n) {
  KeysArgs a = {sweep_id, NULL, 0};
  int rc = sq_txn(st, SQ_READ, keys_body, &a);
  if (rc) {
    free(a.v);
    return rc;
  }
  *out = a.v;
  *n = a.n;
  return TR_OK;
}

typedef struct SweepList {
  RsSweep *v;
  size_t n;
} SweepList;

static int sweeps_list_body(RsStore *st, void *arg) {
  SweepList *l = arg;
  rs_sweeps_free(l->v, l->n);
  l->v = NULL;
  l->n = 0;
  sqlite3_stmt *s;
  int rc = sq_prep(st, "SELECT " SWEEP_COLS " FROM sweeps ORDER BY id", &s, "list sweeps");
  if (rc) return rc;
  size_t cap = 0;
  int r;
  while ((r = sqlite3_step(s)) == SQLITE_ROW) {
    l->v = sq_grow(st, l->v, l->n, &cap, sizeof *l->v, 8, "list sweeps", &rc);
    if (rc) break;
    memset(&l->v[l->n], 0, sizeof *l->v);
    int oom = sweep_row(s, &l->v[l->n++]);
    if (oom) {
      rc = rs_store_fail(st, TR_ENOMEM, "list sweeps: out of memory");
      break;
    }
  }
  if (!rc && r != SQLITE_DONE) rc = sq_fail(st, r, "list sweeps");
  sqlite3_finalize(s);
  return rc;
}

static int sq_sweeps_list(RsStore *st, RsSweep **out, size_t *n) {
  SweepList l = {NULL, 0};
  int rc = sq_txn(st, SQ_READ, sweeps_list_body, &l);
  if (rc) {
    rs_sweeps_free(l.v, l.n);
    return rc;
  }
  *out = l.v;
  *n = l.n;
  return TR_OK;
}

typedef struct CountArgs {
  int64_t sweep_id;
  RsCounts *out;
} CountArgs;

static int counts_body(RsStore *st, void *arg) {
  CountArgs *a = arg;
  memset(a->out, 0, sizeof *a->out);
  sqlite3_stmt *s;
  /* v2 keeps the counts in trial_counts; a v1 file opened read-only has to count. */
  int rc = TR_OK;
  if (sqlite3_prepare_v2(sq_of(st)->db, "SELECT status, n FROM trial_counts WHERE sweep_id = ?1 AND n != 0", -1, &s,
                         NULL) != SQLITE_OK &&
      (rc = sq_prep(st, "SELECT status, count(*) FROM trials WHERE sweep_id = ?1 GROUP BY status", &s,
                    "count trials")))
    return rc;
  sqlite3_bind_int64(s, 1, a->sweep_id);
  int r;
  while ((r = sqlite3_step(s)) == SQLITE_ROW) {
    int k = rs_status_parse((const char *)sqlite3_column_text(s, 0));
    int64_t c = sqlite3_column_int64(s, 1);
    if (k >= 0) a->out->n[k] = c;
    a->out->total += c;
  }
  if (r != SQLITE_DONE) rc = sq_fail(st, r, "count trials");
  sqlite3_finalize(s);
  if (rc || a->out->n[RS_RUNNING] == 0) return rc;
  /* Stale: running past its lease. Walks only the running trials (trials_claim prefix). */
  rc = sq_prep(st, "SELECT count(*) FROM trials WHERE sweep_id = ?1 AND status = 'running' AND lease_until < ?2",
               &s, "count stale trials");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, a->sweep_id);
  sqlite3_bind_double(s, 2, rs_store_now(st));
  if ((r = sqlite3_step(s)) == SQLITE_ROW) a->out->stale = sqlite3_column_int64(s, 0);
  else rc = sq_fail(st, r, "count stale trials");
  sqlite3_finalize(s);
  return rc;
}

static int sq_sweep_counts(RsStore *st, int64_t sweep_id, RsCounts *out) {
  CountArgs a = {sweep_id, out};
  return sq_txn(st, SQ_READ, counts_body, &a);
}

/* ---- trials ---- */

typedef struct InsertArgs {
  int64_t sweep_id;
  size_t n, inserted;
  RsTrialDefFn fn;
  void *ctx;
} InsertArgs;

/* The sweep exists and d's JSON is valid. SQLite 3.40's json_valid answers 0 when its parser
** runs out of memory, so an invalid verdict is asked once more before it is believed. */
static int insert_check(RsStore *st, sqlite3_stmt *chk, int64_t sweep_id, const RsTrialDef *d) {
  for (int attempt = 0;; attempt++) {
    sqlite3_bind_int64(chk, 1, sweep_id);
    bind_text(chk, 2, d->config_json);
    bind_text(chk, 3, d->params_json);
    int r = sqlite3_step(chk);
    if (r != SQLITE_ROW) return sq_fail(st, r, "insert trials");
    int found = sqlite3_column_int(chk, 0) == 1, config_ok = sqlite3_column_int(chk, 1),
        params_ok = sqlite3_column_int(chk, 2);
    sqlite3_reset(chk);
    if (!found) return rs_store_fail(st, TR_ENOTFOUND, "insert trials: no sweep with id %lld", (long long)sweep_id);
    if (config_ok && params_ok) return TR_OK;
    if (attempt)
      return rs_store_fail(st, TR_EINVAL, "insert trials: trial %d: %s is not valid JSON", d->idx,
                           config_ok ? "params" : "config");
  }
}

static int insert_body(RsStore *st, void *arg) {
  InsertArgs *a = arg;
  a->inserted = 0;
  sqlite3 *db = sq_of(st)->db;
  sqlite3_stmt *s = NULL, *chk = NULL;
  int rc = sq_prep(st, "SELECT (SELECT count(*) FROM sweeps WHERE id = ?1), json_valid(?2), json_valid(?3)",
                   &chk, "insert trials");
  if (!rc) rc = sq_prep(st, "INSERT OR IGNORE INTO trials (sweep_id, idx, hash, config, params, seed) "
                            "VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &s, "insert trials");
  for (size_t i = 0; !rc && i < a->n; i++) {
    RsTrialDef def, *d = &def;
    if ((rc = a->fn(a->ctx, i, &def))) break;
    if ((rc = insert_check(st, chk, a->sweep_id, d))) break;
    sqlite3_bind_int64(s, 1, a->sweep_id);
    sqlite3_bind_int(s, 2, d->idx);
    bind_text(s, 3, d->hash);
    bind_text(s, 4, d->config_json);
    bind_text(s, 5, d->params_json);
    sqlite3_bind_int64(s, 6, d->seed);
    if ((rc = sq_done(st, s, "insert trials"))) break;
    a->inserted += (size_t)sqlite3_changes(db);
    sqlite3_reset(s);
  }
  sqlite3_finalize(chk);
  sqlite3_finalize(s);
  if (!rc && a->inserted) {
    char msg[64];
    snprintf(msg, sizeof msg, "%zu trials added", a->inserted);
    rc = event_insert(st, a->sweep_id, 0, "expand", msg);
  }
  return rc;
}

static int sq_trials_insert(RsStore *st, int64_t sweep_id, size_t n, RsTrialDefFn fn, void *ctx,
                            size_t *n_inserted) {
  InsertArgs a = {sweep_id, n, 0, fn, ctx};
  int rc = sq_txn(st, SQ_DURABLE, insert_body, &a);
  *n_inserted = rc ? 0 : a.inserted;
  return rc;
}

typedef struct ClaimArgs {
  int64_t sweep_id;
  const char *worker;
  double lease;
  int max_attempts;
  const RsClaimHooks *h;
  RsClaim *out;
  char detail[256];   /* the claimed proposal's event detail */
} ClaimArgs;

/* Nothing claimable: how many trials are held by live leases, and until when. */
static int claim_none(RsStore *st, ClaimArgs *a, double now) {
  sqlite3_stmt *s;
  int rc = sq_prep(st, "SELECT (SELECT count(*) FROM sweeps WHERE id = ?1), count(*), min(lease_until) "
                       "FROM trials WHERE sweep_id = ?1 AND status = 'running'", &s, "claim");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, a->sweep_id);
  int r = sqlite3_step(s);
  if (r != SQLITE_ROW) rc = sq_fail(st, r, "claim");
  else if (sqlite3_column_int(s, 0) != 1)
    rc = rs_store_fail(st, TR_ENOTFOUND, "claim: no sweep with id %lld", (long long)a->sweep_id);
  else {
    a->out->running = sqlite3_column_int64(s, 1);
    double until = col_real(s, 2);
    a->out->wait_seconds = isnan(until) || until < now ? 0 : until - now;
  }
  sqlite3_finalize(s);
  return rc;
}

/* A trial whose lease expired RS_RECLAIM_MAX times already, with no new checkpoint
** in between: its worker keeps dying (or hanging, or taking the machine down) whoever
** runs it. Fail it for good instead of a new reclaim. */
static int claim_give_up(RsStore *st, ClaimArgs *a, int64_t trial_id, int64_t token, int reclaims, double now) {
  char why[96];
  rs_give_up_text(reclaims, why, sizeof why);
  sqlite3_stmt *s;
  int rc = sq_prep(st,
                   "UPDATE trials SET status = 'failed', failures = failures + 1, no_retry = 1, "
                   "claim_token = claim_token + 1, lease_until = NULL, ended = ?3, error = ?4 "
                   "WHERE id = ?1 AND claim_token = ?2",
                   &s, "claim: give up");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, trial_id);
  sqlite3_bind_int64(s, 2, token);
  sqlite3_bind_double(s, 3, now);
  bind_text(s, 4, why);
  if ((rc = sq_done_final(st, s, "claim: give up"))) return rc;
  if (sqlite3_changes(sq_of(st)->db) != 1) /* cannot happen under the write lock; never loop on it */
    return rs_store_fail(st, TR_EDB, "claim: trial %lld changed under the write lock", (long long)trial_id);
  return event_insert(st, a->sweep_id, trial_id, "fail", why);
}

/* The claim order: resume (interrupted), reclaim (running, lease expired), claim (pending),
** retry (failed with failures left and not no_retry), by idx within each. One probe per class, each an ordered
** walk of the index trials_claim (sweep_id, status, idx) that stops at its first row: a claim
** costs the same at 100 trials and at 100,000 (one query sorting every candidate did not). */
#define CLAIM_COLS "SELECT id, idx, status, seed, config, checkpoint, checkpoint_step, attempts, claim_token, worker, " \
                   "reclaims, promoted_step FROM trials WHERE sweep_id = ?1 AND status = "
static const char *const claim_sql[] = {
    CLAIM_COLS "'interrupted' ORDER BY idx LIMIT 1",
    CLAIM_COLS "'running' AND (lease_until IS NULL OR lease_until < ?2) ORDER BY idx LIMIT 1",
    CLAIM_COLS "'pending' ORDER BY idx LIMIT 1",
    CLAIM_COLS "'failed' AND failures < ?3 AND no_retry = 0 ORDER BY idx LIMIT 1",
};
#define N_CLAIM_CLASSES (int)(sizeof claim_sql / sizeof claim_sql[0])

/* The first claimable trial of classes [from, to): *out stepped onto its row, or NULL when none. */
static int claim_find(RsStore *st, ClaimArgs *a, double now, int from, int to, sqlite3_stmt **out) {
  *out = NULL;
  for (int i = from; i < to; i++) {
    sqlite3_stmt *s;
    int rc = sq_prep(st, claim_sql[i], &s, "claim");
    if (rc) return rc;
    sqlite3_bind_int64(s, 1, a->sweep_id);
    if (sqlite3_bind_parameter_count(s) >= 2) sqlite3_bind_double(s, 2, now);
    if (sqlite3_bind_parameter_count(s) >= 3) sqlite3_bind_int(s, 3, a->max_attempts);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
      *out = s;
      return TR_OK;
    }
    sqlite3_finalize(s);
    if (r != SQLITE_DONE) return sq_fail(st, r, "claim");
  }
  return TR_OK;
}

/* ---- early termination: the sweep's curves, promotions ---- */

/* A sweep's curves of its metric (RsCurve), their points in two shared arrays. */
typedef struct Curves {
  RsCurve *c;
  size_t n, cap;
  size_t *off;     /* (cap) offset of curve i's points until curves_load fixes the pointers */
  int64_t *step;
  double *value;
  size_t np, pcap;
} Curves;

static void curves_free(Curves *cv) {
  for (size_t i = 0; i < cv->n; i++) free((char *)cv->c[i].params);
  free(cv->c);
  free(cv->off);
  free(cv->step);
  free(cv->value);
  memset(cv, 0, sizeof *cv);
}

/* Room for one more curve and one more point; out of memory: *rc set. */
static void curves_grow(RsStore *st, Curves *cv, int curve, int *rc) {
  if (curve && cv->n == cv->cap) {
    size_t cap = cv->cap;
    cv->c = sq_grow(st, cv->c, cv->n, &cap, sizeof *cv->c, 64, "load curves", rc);
    if (!*rc) cv->off = sq_grow(st, cv->off, cv->n, &cv->cap, sizeof *cv->off, 64, "load curves", rc);
  }
  if (!curve && cv->np == cv->pcap) {
    size_t cap = cv->pcap;
    cv->step = sq_grow(st, cv->step, cv->np, &cap, sizeof *cv->step, 1024, "load curves", rc);
    if (!*rc) cv->value = sq_grow(st, cv->value, cv->np, &cv->pcap, sizeof *cv->value, 1024, "load curves", rc);
  }
}

/* Every trial of the sweep by idx with its finite values of the sweep metric by step: one
** statement (the metrics primary key serves each trial's curve in step order). */
static int curves_load(RsStore *st, int64_t sweep_id, Curves *cv) {
  curves_free(cv);
  sqlite3_stmt *s;
  int rc = sq_prep(st, "SELECT t.id, t.idx, t.status, m.step, m.value, t.rung, t.checkpoint_step, t.params "
                       "FROM trials t LEFT JOIN metrics m "
                       "ON m.trial_id = t.id AND m.name = (SELECT metric FROM sweeps WHERE id = ?1) "
                       "WHERE t.sweep_id = ?1 ORDER BY t.idx, t.id, m.step", &s, "load curves");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, sweep_id);
  int r;
  while (!rc && (r = sqlite3_step(s)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(s, 0);
    if (cv->n == 0 || cv->c[cv->n - 1].trial_id != id) {
      curves_grow(st, cv, 1, &rc);
      if (rc) break;
      RsStatus status = (RsStatus)rs_status_parse((const char *)sqlite3_column_text(s, 2));
      cv->off[cv->n] = cv->np;
      const char *params = (const char *)sqlite3_column_text(s, 7);
      char *pc = tr_strdup(params ? params : "{}");
      if (!pc) {
        rc = rs_store_fail(st, TR_ENOMEM, "load curves: out of memory");
        break;
      }
      cv->c[cv->n++] = (RsCurve){id, sqlite3_column_int(s, 1), status, status == RS_COMPLETED,
                                 status == RS_PAUSED, 0, NULL, NULL, col_int(s, 5), col_int(s, 6), pc};
    }
    double v = sqlite3_column_double(s, 4);
    if (sqlite3_column_type(s, 3) == SQLITE_NULL || !isfinite(v)) continue;
    curves_grow(st, cv, 0, &rc);
    if (rc) break;
    cv->step[cv->np] = sqlite3_column_int64(s, 3);
    cv->value[cv->np++] = v;
    cv->c[cv->n - 1].n++;
  }
  if (!rc && r != SQLITE_DONE) rc = sq_fail(st, r, "load curves");
  sqlite3_finalize(s);
  for (size_t i = 0; !rc && i < cv->n; i++) {
    cv->c[i].step = cv->step ? cv->step + cv->off[i] : NULL;
    cv->c[i].value = cv->value ? cv->value + cv->off[i] : NULL;
  }
  return rc;
}

/* Does the sweep have a trial with this status? One probe of trials_claim. */
static int sweep_has_status(RsStore *st, int64_t sweep_id, const char *status, int *yes) {
  sqlite3_stmt *s;
  int rc = sq_prep(st, "SELECT 1 FROM trials WHERE sweep_id = ?1 AND status = ?2 LIMIT 1", &s, "claim");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, sweep_id);
  bind_text(s, 2, status);
  int r = sqlite3_step(s);
  *yes = r == SQLITE_ROW;
  if (r != SQLITE_ROW && r != SQLITE_DONE) rc = sq_fail(st, r, "claim");
  sqlite3_finalize(s);
  return rc;
}

/* The claim row (CLAIM_COLS `sql`, ?1 the sweep, ?2 the trial) of one trial into *out, left
** stepped for the caller; no row: TR_OK and *out untouched, or the error `missing` when given. */
static int claim_row_by_id(RsStore *st, const char *sql, int64_t sweep_id, int64_t id, const char *what,
                           const char *missing, sqlite3_stmt **out) {
  sqlite3_stmt *s;
  int rc = sq_prep(st, sql, &s, what);
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, sweep_id);
  sqlite3_bind_int64(s, 2, id);
  int r = sqlite3_step(s);
  if (r == SQLITE_ROW) {
    *out = s;
    return TR_OK;
  }
  sqlite3_finalize(s);
  if (r != SQLITE_DONE) return sq_fail(st, r, what);
  return missing ? rs_store_fail(st, TR_EDB, "%s", missing) : TR_OK;
}

/* The paused trial the promotion hook names: *out stepped onto its claim row, or NULL. */
static int claim_promote_find(RsStore *st, ClaimArgs *a, sqlite3_stmt **out, int64_t *to_step) {
  *out = NULL;
  *to_step = -1;
  int any, rc = sweep_has_status(st, a->sweep_id, "paused", &any);
  if (rc || !any) return rc;
  Curves cv = {0};
  if ((rc = curves_load(st, a->sweep_id, &cv))) return rc;
  long i = a->h->promote(a->h->promote_ctx, cv.c, cv.n, to_step);
  int64_t id = i >= 0 && (size_t)i < cv.n && cv.c[i].paused ? cv.c[i].trial_id : -1;
  curves_free(&cv);
  if (i < 0) return TR_OK;
  if (id < 0) return rs_store_fail(st, TR_EINVAL, "claim: the promotion hook named %ld, not a paused trial", i);
  return claim_row_by_id(st, CLAIM_COLS "'paused' AND id = ?2", a->sweep_id, id, "claim", NULL, out);
}

/* ---- model-based search: propose and insert the pending trial ---- */

/* The sweep's trials as the proposal callback reads them (RsProposeTrial), by idx; their params
** texts in one arena. *next_idx: 1 + the largest idx (0 for none). */
typedef struct ProposeRows {
  RsProposeTrial *t;
  size_t n, cap;
  char **text;
} ProposeRows;

static void propose_rows_free(ProposeRows *pr) {
  for (size_t i = 0; i < pr->n; i++) free(pr->text[i]);
  free(pr->text);
  free(pr->t);
  memset(pr, 0, sizeof *pr);
}

static int propose_rows_load(RsStore *st, int64_t sweep_id, ProposeRows *pr, int *next_idx) {
  sqlite3_stmt *s;
  int rc = sq_prep(st, "SELECT id, idx, status, params, best_metric, steps FROM trials WHERE sweep_id = ?1 "
                       "ORDER BY idx, id", &s, "propose");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, sweep_id);
  *next_idx = 0;
  int r, oom = 0;
  while (!rc && (r = sqlite3_step(s)) == SQLITE_ROW) {
    if (pr->n == pr->cap) {
      size_t cap = pr->cap;
      pr->t = sq_grow(st, pr->t, pr->n, &cap, sizeof *pr->t, 64, "propose", &rc);
      if (!rc) pr->text = sq_grow(st, pr->text, pr->n, &pr->cap, sizeof *pr->text, 64, "propose", &rc);
      if (rc) break;
    }
    char *params = col_text(s, 3, &oom);
    if (oom) {
      rc = rs_store_fail(st, TR_ENOMEM, "propose: out of memory");
      break;
    }
    int idx = sqlite3_column_int(s, 1);
    pr->text[pr->n] = params;
    pr->t[pr->n++] = (RsProposeTrial){sqlite3_column_int64(s, 0), idx,
                                      (RsStatus)rs_status_parse((const char *)sqlite3_column_text(s, 2)),
                                      params ? params : "{}", col_real(s, 4), col_int(s, 5)};
    if (idx + 1 > *next_idx) *next_idx = idx + 1;
  }
  if (!rc && r != SQLITE_DONE) rc = sq_fail(st, r, "propose");
  sqlite3_finalize(s);
  return rc;
}

/* Insert the proposal's trials (each new: a hash the sweep holds already is an error, the
** model proposed a point that exists); *first gets the first one's id. */
static int propose_insert(RsStore *st, ClaimArgs *a, const RsProposal *p, int next_idx, int64_t *first) {
  sqlite3_stmt *s;
  int rc = sq_prep(st, "INSERT OR IGNORE INTO trials (sweep_id, idx, hash, config, params, seed) "
                       "SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE json_valid(?4) AND json_valid(?5)", &s, "propose");
  for (size_t i = 0; !rc && i < p->n; i++) {
    const RsTrialDef *d = &p->defs[i];
    if (d->idx != next_idx + (int)i) {
      rc = rs_store_fail(st, TR_EINVAL, "propose: trial %d defined, %d expected", d->idx, next_idx + (int)i);
      break;
    }
    sqlite3_bind_int64(s, 1, a->sweep_id);
    sqlite3_bind_int(s, 2, d->idx);
    bind_text(s, 3, d->hash);
    bind_text(s, 4, d->config_json);
    bind_text(s, 5, d->params_json);
    sqlite3_bind_int64(s, 6, d->seed);
    if ((rc = sq_done(st, s, "propose"))) break;
    if (sqlite3_changes(sq_of(st)->db) != 1)
      rc = rs_store_fail(st, TR_EINVAL, "propose: trial %d (%s) is already in the sweep, or its JSON is invalid",
                         d->idx, d->hash ? d->hash : "?");
    if (i == 0) *first = sqlite3_last_insert_rowid(sq_of(st)->db);
    sqlite3_reset(s);
  }
  sqlite3_finalize(s);
  return rc;
}

/* Nothing else claimable: below the cap, ask the proposal hook for new trials, insert them and
** step *out onto the first one's claim row (NULL when the hook proposes nothing). */
static int claim_propose(RsStore *st, ClaimArgs *a, sqlite3_stmt **out) {
  *out = NULL;
  ProposeRows pr = {0};
  int next_idx = 0;
  int rc = propose_rows_load(st, a->sweep_id, &pr, &next_idx);
  if (rc || (int64_t)pr.n >= a->h->cap) {
    propose_rows_free(&pr);
    return rc;
  }
  RsProposal p;
  memset(&p, 0, sizeof p);
  rc = a->h->propose(a->h->propose_ctx, pr.t, pr.n, next_idx, &p);
  size_t have = pr.n;
  propose_rows_free(&pr);
  if (rc) return rs_store_fail(st, rc, "propose: the proposal hook failed (code %d)", rc);
  if (p.n == 0) return TR_OK;
  if ((int64_t)(have + p.n) > a->h->cap)
    return rs_store_fail(st, TR_EINVAL, "propose: %zu trials would pass the cap of %lld", have + p.n,
                         (long long)a->h->cap);
  int64_t id = -1;
  if ((rc = propose_insert(st, a, &p, next_idx, &id))) return rc;
  snprintf(a->detail, sizeof a->detail, "%s", p.detail[0] ? p.detail : "{}");
  return claim_row_by_id(st, CLAIM_COLS "'pending' AND id = ?2", a->sweep_id, id, "propose",
                         "propose: the new trial vanished", out);
}

/* Nothing claimable with promotions on: when no trial runs either, the paused ones left will
** never be promoted: pruned, so the sweep ends. Then the usual answer (claim_none). */
static int claim_end_paused(RsStore *st, ClaimArgs *a, double now) {
  int rc = claim_none(st, a, now);
  if (rc || a->out->running > 0) return rc;
  sqlite3_stmt *s;
  static const char *const sql[] = {
      "INSERT INTO events (sweep_id, trial_id, time, kind, message, detail) SELECT sweep_id, id, ?2, 'prune', "
      "'not promoted: paused at ' || ifnull(rung, '?') || ' when the sweep ended', "
      "json_object('rung', rung, 'promoted', 0) FROM trials WHERE sweep_id = ?1 AND status = 'paused'",
      "UPDATE trials SET status = 'pruned', ended = ?2, "
      "error = 'not promoted: paused at ' || ifnull(rung, '?') || ' when the sweep ended' "
      "WHERE sweep_id = ?1 AND status = 'paused'"};
  for (int i = 0; !rc && i < 2; i++) {
    if ((rc = sq_prep(st, sql[i], &s, "claim: end paused trials"))) break;
    sqlite3_bind_int64(s, 1, a->sweep_id);
    sqlite3_bind_double(s, 2, now);
    rc = sq_done_final(st, s, "claim: end paused trials");
  }
  return rc;
}

static int claim_body(RsStore *st, void *arg) {
  ClaimArgs *a = arg;
  RsClaim *o = a->out;
  rs_claim_clear(o);
  double now = rs_store_now(st);
  sqlite3_stmt *s = NULL;
  int rc;
  int64_t to_step = -1;
pick: /* again after failing a trial that keeps dying (claim_give_up) */
  rc = claim_find(st, a, now, 0, 2, &s); /* resume, reclaim */
  if (!rc && !s && a->h->promote) rc = claim_promote_find(st, a, &s, &to_step);
  if (!rc && !s) rc = claim_find(st, a, now, 2, N_CLAIM_CLASSES, &s); /* pending, retry */
  a->detail[0] = '\0';
  if (!rc && !s && a->h->propose) rc = claim_propose(st, a, &s);
  if (rc) return rc;
  if (!s) return a->h->promote ? claim_end_paused(st, a, now) : claim_none(st, a, now);
  int oom = 0;
  o->trial_id = sqlite3_column_int64(s, 0);
  o->idx = sqlite3_column_int(s, 1);
  RsStatus was = (RsStatus)rs_status_parse((const char *)sqlite3_column_text(s, 2));
  o->seed = sqlite3_column_int64(s, 3);
  o->config_json = col_text(s, 4, &oom);
  o->checkpoint = col_text(s, 5, &oom);
  o->checkpoint_step = col_int(s, 6);
  o->attempts = sqlite3_column_int(s, 7) + 1;
  int64_t token = sqlite3_column_int64(s, 8);
  char prev_worker[128];
  snprintf(prev_worker, sizeof prev_worker, "%s",
           sqlite3_column_text(s, 9) ? (const char *)sqlite3_column_text(s, 9) : "?");
  int reclaims = sqlite3_column_int(s, 10);
  o->promoted_step = col_int(s, 11);
  sqlite3_finalize(s);
  if (was == RS_RUNNING && reclaims >= st->reclaim_max) {
    int64_t id = o->trial_id;
    rs_claim_clear(o);
    if ((rc = claim_give_up(st, a, id, token, reclaims, now))) return rc;
    goto pick;
  }
  if (oom) return rs_store_fail(st, TR_ENOMEM, "claim: out of memory");
  rs_claim_settle(o, was, a->detail[0] != '\0', token);

  /* Drop the metrics a restarted run will write again, so curves never mix (keep_metrics: the
  ** caller does, once it knows where the run resumes: rs_trial_resume_at). */
  if (!a->h->keep_metrics) {
    rc = sq_prep(st, "DELETE FROM metrics WHERE trial_id = ?1 AND step > ?2", &s, "claim");
    if (rc) return rc;
    sqlite3_bind_int64(s, 1, o->trial_id);
    sqlite3_bind_int64(s, 2, o->checkpoint ? o->checkpoint_step : -1);
    rc = sq_done_final(st, s, "claim: delete old metrics");
    if (rc) return rc;
  }

  rc = sq_prep(st,
               "UPDATE trials SET status = 'running', worker = ?3, owner = ?10, lease_until = ?4, attempts = attempts + 1, "
               "reclaims = reclaims + ?8, heartbeat = ?5, "
               "claim_token = claim_token + 1, started = ?5, ended = NULL, error = NULL, final_metric = NULL, "
               "best_metric = NULL, best_step = NULL, steps = NULL, tokens = NULL, wall_seconds = NULL, "
               "flops = NULL, summary = NULL, checkpoint = ?6, checkpoint_step = ?7, promoted_step = ?9, "
               /* PBT: the step a member was last decided at outlives a resume from that step or later
               ** (a decision is applied once, across crashes); elsewhere a claim clears the rung. */
               "rung = CASE WHEN ?7 IS NOT NULL AND rung <= ?7 AND (SELECT method FROM sweeps WHERE id = "
               "trials.sweep_id) = 'pbt' THEN rung END "
               "WHERE id = ?1 AND claim_token = ?2",
               &s, "claim");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, o->trial_id);
  sqlite3_bind_int64(s, 2, token);
  bind_text(s, 3, a->worker);
  sqlite3_bind_double(s, 4, now + a->lease);
  sqlite3_bind_double(s, 5, now);
  bind_text(s, 6, o->checkpoint);
  if (o->checkpoint) sqlite3_bind_int64(s, 7, o->checkpoint_step);
  sqlite3_bind_int(s, 8, was == RS_RUNNING);
  if (o->promoted_step >= 0) sqlite3_bind_int64(s, 9, o->promoted_step);
  bind_text(s, 10, st->owner[0] ? st->owner : NULL);
  rc = sq_done_final(st, s, "claim");
  if (rc) return rc;
  if (sqlite3_changes(sq_of(st)->db) != 1) /* cannot happen under the write lock */
    return rs_store_fail(st, TR_EDB, "claim: trial %lld changed under the write lock", (long long)o->trial_id);

  char msg[512], detail[256];
  rs_claim_text(o, was, a->worker, prev_worker, to_step, a->detail, msg, sizeof msg, detail, sizeof detail);
  if ((rc = event_insert_detail(st, a->sweep_id, o->trial_id, o->kind, msg, detail[0] ? detail : NULL))) return rc;
  o->claimed = 1;
  return TR_OK;
}

static int sq_trial_claim(RsStore *st, int64_t sweep_id, const char *worker, double lease_seconds,
                          int max_attempts, const RsClaimHooks *hooks, RsClaim *out) {
  ClaimArgs a = {sweep_id, worker, lease_seconds, max_attempts, hooks, out, ""};
  int rc = sq_txn(st, SQ_DURABLE, claim_body, &a);
  if (rc) rs_claim_clear(out);
  return rc;
}

/* Explain why (trial, token) no longer holds the claim; returns RS_LOST. */
static int claim_lost(RsStore *st, int64_t trial_id, int64_t token, const char *what) {
  sqlite3_stmt *s;
  if (sq_prep(st, "SELECT status, claim_token, worker FROM trials WHERE id = ?1", &s, what))
    return RS_LOST;
  sqlite3_bind_int64(s, 1, trial_id);
  if (sqlite3_step(s) == SQLITE_ROW)
    rs_store_fail(st, RS_LOST, "trial %lld: %s: claim %lld lost (the trial is %s, claim %lld of %s)",
                  (long long)trial_id, what, (long long)token, (const char *)sqlite3_column_text(s, 0),
                  (long long)sqlite3_column_int64(s, 1),
                  sqlite3_column_text(s, 2) ? (const char *)sqlite3_column_text(s, 2) : "nobody");
  else
    rs_store_fail(st, RS_LOST, "trial %lld: %s: no such trial", (long long)trial_id, what);
  sqlite3_finalize(s);
  return RS_LOST;
}

/* A conditional update on a held claim: ?1 trial id, ?2 token, more binds by the caller. */
typedef struct HeldArgs {
  int64_t trial_id, token;
  const char *what;
  double real1;
  int64_t int1;
  const char *text1;
  RsStatus status;
  const RsTrialResult *res;
} HeldArgs;

#define HELD " WHERE id = ?1 AND claim_token = ?2 AND status = 'running'"

static int held_update(RsStore *st, HeldArgs *a, const char *sql, sqlite3_stmt **s) {
  int rc = sq_prep(st, sql, s, a->what);
  if (rc) return rc;
  sqlite3_bind_int64(*s, 1, a->trial_id);
  sqlite3_bind_int64(*s, 2, a->token);
  return TR_OK;
}

static int held_run(RsStore *st, HeldArgs *a, sqlite3_stmt *s) {
  int rc = sq_done_final(st, s, a->what);
  if (rc) return rc;
  return sqlite3_changes(sq_of(st)->db) == 1 ? TR_OK : claim_lost(st, a->trial_id, a->token, a->what);
}

static int heartbeat_body(RsStore *st, void *arg) {
  HeldArgs *a = arg;
  sqlite3_stmt *s;
  int rc = held_update(st, a, "UPDATE trials SET lease_until = ?3 + ?4, heartbeat = ?3" HELD, &s);
  if (rc) return rc;
  sqlite3_bind_double(s, 3, rs_store_now(st));
  sqlite3_bind_double(s, 4, a->real1);
  return held_run(st, a, s);
}

static int sq_trial_heartbeat(RsStore *st, int64_t trial_id, int64_t token, double lease_seconds) {
  HeldArgs a = {trial_id, token, "heartbeat", lease_seconds, 0, NULL, RS_RUNNING, NULL};
  return sq_txn(st, SQ_WRITE, heartbeat_body, &a);
}

static int checkpoint_body(RsStore *st, void *arg) {
  HeldArgs *a = arg;
  sqlite3_stmt *s;
  /* Progress: the reclaims that cap "a worker that keeps dying" count from here. */
  int rc = held_update(st, a, "UPDATE trials SET checkpoint = ?3, checkpoint_step = ?4, reclaims = 0" HELD, &s);
  if (rc) return rc;
  bind_text(s, 3, a->text1);
  sqlite3_bind_int64(s, 4, a->int1);
  return held_run(st, a, s);
}

static int sq_trial_set_checkpoint(RsStore *st, int64_t trial_id, int64_t token, const char *path,
                                   int64_t step) {
  HeldArgs a = {trial_id, token, "set checkpoint", 0, step, path, RS_RUNNING, NULL};
  return sq_txn(st, SQ_DURABLE, checkpoint_body, &a);
}

static int reset_body(RsStore *st, void *arg) {
  HeldArgs *a = arg;
  sqlite3_stmt *s;
  int rc = held_update(st, a, "UPDATE trials SET checkpoint = NULL, checkpoint_step = NULL" HELD, &s);
  if (rc || (rc = held_run(st, a, s))) return rc;
  if ((rc = sq_prep(st, "DELETE FROM metrics WHERE trial_id = ?1", &s, a->what))) return rc;
  sqlite3_bind_int64(s, 1, a->trial_id);
  rc = sq_done_final(st, s, a->what);
  if (rc) return rc;
  return event_insert(st, 0, a->trial_id, "restart", "checkpoint could not be loaded: restart from step 0");
}

static int sq_trial_reset(RsStore *st, int64_t trial_id, int64_t token) {
  HeldArgs a = {trial_id, token, "reset", 0, 0, NULL, RS_RUNNING, NULL};
  return sq_txn(st, SQ_DURABLE, reset_body, &a);
}

static int resume_at_body(RsStore *st, void *arg) {
  HeldArgs *a = arg;
  sqlite3_stmt *s;
  int rc = held_update(st, a, "UPDATE trials SET checkpoint = ?3, checkpoint_step = ?4" HELD, &s);
  if (rc) return rc;
  bind_text(s, 3, a->text1);
  if (a->int1 >= 0) sqlite3_bind_int64(s, 4, a->int1);
  if ((rc = held_run(st, a, s))) return rc;
  if ((rc = sq_prep(st, "DELETE FROM metrics WHERE trial_id = ?1 AND step > ?2", &s, a->what))) return rc;
  sqlite3_bind_int64(s, 1, a->trial_id);
  sqlite3_bind_int64(s, 2, a->int1);
  return sq_done_final(st, s, a->what);
}

static int sq_trial_resume_at(RsStore *st, int64_t trial_id, int64_t token, const char *path, int64_t step) {
  HeldArgs a = {trial_id, token, "resume trial", 0, step, path, RS_RUNNING, NULL};
  return sq_txn(st, SQ_DURABLE, resume_at_body, &a);
}

static int finish_body(RsStore *st, void *arg) {
  HeldArgs *a = arg;
  const RsTrialResult *r = a->res;
  sqlite3_stmt *s;
  int rc = held_update(st, a,
                       "UPDATE trials SET status = ?3, ended = ?4, lease_until = NULL, final_metric = ?5, "
                       "best_metric = ?6, best_step = ?7, steps = ?8, tokens = ?9, wall_seconds = ?10, "
                       "flops = ?11, summary = ?12, error = ?13, failures = failures + (?3 = 'failed'), "
                       "no_retry = ?14" HELD,
                       &s);
  if (rc) return rc;
  bind_text(s, 3, rs_status_name(a->status));
  sqlite3_bind_double(s, 4, rs_store_now(st));
  bind_real(s, 5, r->final_metric);
  bind_real(s, 6, r->best_metric);
  if (r->best_step >= 0) sqlite3_bind_int64(s, 7, r->best_step);
  sqlite3_bind_int64(s, 8, r->steps);
  sqlite3_bind_int64(s, 9, r->tokens);
  bind_real(s, 10, r->wall_seconds);
  bind_real(s, 11, r->flops);
  bind_text(s, 12, r->summary_json);
  bind_text(s, 13, r->error);
  sqlite3_bind_int(s, 14, a->status == RS_FAILED && r->no_retry);
  if ((rc = held_run(st, a, s))) return rc;
  char msg[320];
  const char *kind = rs_finish_text(a->status, r, msg, sizeof msg);
  sqlite3_stmt *q;
  int64_t sweep_id = 0;
  if ((rc = sq_prep(st, "SELECT sweep_id FROM trials WHERE id = ?1", &q, a->what))) return rc;
  sqlite3_bind_int64(q, 1, a->trial_id);
  int step = sqlite3_step(q);
  if (step == SQLITE_ROW) sweep_id = sqlite3_column_int64(q, 0);
  else rc = sq_fail(st, step, a->what);
  sqlite3_finalize(q);
  return rc ? rc : event_insert(st, sweep_id, a->trial_id, kind, msg);
}

static int sq_trial_finish(RsStore *st, int64_t trial_id, int64_t token, RsStatus status,
                           const RsTrialResult *res) {
  HeldArgs a = {trial_id, token, "finish", 0, 0, NULL, status, res};
  return sq_txn(st, SQ_DURABLE, finish_body, &a);
}

typedef struct JudgeArgs {
  int64_t trial_id, token;
  RsJudgeFn fn;
  void *ctx;
  RsVerdict *out;
  int applied;
} JudgeArgs;

/* The judged trial's sweep, goal and recorded checkpoint step, while the claim holds. */
static int judge_claim(RsStore *st, JudgeArgs *a, int64_t *sweep_id, int *maximize, int64_t *ckpt_step) {
  sqlite3_stmt *s;
  int rc = sq_prep(st, "SELECT sweep_id, (SELECT goal = 'maximize' FROM sweeps WHERE id = sweep_id), "
                       "checkpoint_step FROM trials" HELD, &s, "judge trial");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, a->trial_id);
  sqlite3_bind_int64(s, 2, a->token);
  int r = sqlite3_step(s);
  if (r == SQLITE_ROW) {
    *sweep_id = sqlite3_column_int64(s, 0);
    *maximize = sqlite3_column_int(s, 1);
    *ckpt_step = col_int(s, 2);
  }
  sqlite3_finalize(s);
  if (r == SQLITE_DONE) return claim_lost(st, a->trial_id, a->token, "judge trial");
  return r == SQLITE_ROW ? TR_OK : sq_fail(st, r, "judge trial");
}

/* Write a prune or pause verdict about curve c (the judged trial's) and its event. */
static int judge_apply(RsStore *st, JudgeArgs *a, int64_t sweep_id, int maximize, const RsCurve *c) {
  const RsVerdict *v = a->out;
  int prune = v->action == RS_VERDICT_PRUNE;
  double best;
  int64_t best_step;
  rs_curve_best(c, maximize, &best, &best_step);
  sqlite3_stmt *s;
  int rc = sq_prep(st, "UPDATE trials SET status = ?3, ended = ?4, lease_until = NULL, error = ?5, rung = ?6, "
                       "final_metric = ?7, best_metric = ?8, best_step = ?9, steps = ?10" HELD, &s, "judge trial");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, a->trial_id);
  sqlite3_bind_int64(s, 2, a->token);
  bind_text(s, 3, prune ? "pruned" : "paused");
  sqlite3_bind_double(s, 4, rs_store_now(st));
  bind_text(s, 5, prune ? v->reason : NULL);
  sqlite3_bind_int64(s, 6, v->rung);
  bind_real(s, 7, c->n ? c->value[c->n - 1] : NAN);
  bind_real(s, 8, best);
  if (best_step >= 0) sqlite3_bind_int64(s, 9, best_step);
  if (c->n) sqlite3_bind_int64(s, 10, c->step[c->n - 1]);
  HeldArgs h = {a->trial_id, a->token, "judge trial", 0, 0, NULL, RS_RUNNING, NULL};
  if ((rc = held_run(st, &h, s))) return rc;
  a->applied = 1;
  return event_insert_detail(st, sweep_id, a->trial_id, prune ? "prune" : "pause", v->reason,
                             v->detail[0] ? v->detail : NULL);
}

/* PBT: the trial was decided at step v->rung; a copy takes the source's checkpoint and the new config. */
static int judge_exploit(RsStore *st, JudgeArgs *a, int64_t sweep_id) {
  const RsVerdict *v = a->out;
  int copy = 0;
  int rc = rs_exploit_check(st, v, a->trial_id, &copy);
  if (rc) return rc;
  sqlite3_stmt *s;
  rc = sq_prep(st, copy ? "UPDATE trials SET rung = ?3, checkpoint = ?4, checkpoint_step = ?3, config = ?5, "
                          "params = ?6, reclaims = 0" HELD
                        : "UPDATE trials SET rung = ?3" HELD, &s, "judge trial");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, a->trial_id);
  sqlite3_bind_int64(s, 2, a->token);
  sqlite3_bind_int64(s, 3, v->rung);
  if (copy) {
    bind_text(s, 4, v->checkpoint);
    bind_text(s, 5, v->config);
    bind_text(s, 6, v->params);
  }
  HeldArgs h = {a->trial_id, a->token, "judge trial", 0, 0, NULL, RS_RUNNING, NULL};
  if ((rc = held_run(st, &h, s))) return rc;
  a->applied = 1;
  if (!copy) return TR_OK;
  if ((rc = sq_prep(st, "DELETE FROM metrics WHERE trial_id = ?1 AND step > ?2", &s, "judge trial"))) return rc;
  sqlite3_bind_int64(s, 1, a->trial_id);
  sqlite3_bind_int64(s, 2, v->rung);
  if ((rc = sq_done_final(st, s, "judge trial"))) return rc;
  return event_insert_detail(st, sweep_id, a->trial_id, "exploit", v->reason, v->detail[0] ? v->detail : NULL);
}

static int judge_body(RsStore *st, void *arg) {
  JudgeArgs *a = arg;
  a->applied = 0;
  memset(a->out, 0, sizeof *a->out);
  int64_t sweep_id = 0, ckpt_step = -1;
  int maximize = 0;
  int rc = judge_claim(st, a, &sweep_id, &maximize, &ckpt_step);
  if (rc) return rc;
  Curves cv = {0};
  if ((rc = curves_load(st, sweep_id, &cv))) return rc;
  size_t self = 0;
  rc = rs_judge_curves(st, cv.c, cv.n, a->trial_id, a->fn, a->ctx, a->out, &self);
  const RsCurve *c = rc ? NULL : &cv.c[self];
  if (!rc && rs_verdict_ready(a->out, c, ckpt_step)) rc = judge_apply(st, a, sweep_id, maximize, c);
  if (!rc && a->out->action == RS_VERDICT_EXPLOIT) rc = judge_exploit(st, a, sweep_id);
  curves_free(&cv);
  return rc;
}

static int sq_trial_judge(RsStore *st, int64_t trial_id, int64_t token, RsJudgeFn fn, void *ctx, RsVerdict *out,
                          int *applied) {
  JudgeArgs a = {trial_id, token, fn, ctx, out, 0};
  int rc = sq_txn(st, SQ_DURABLE, judge_body, &a);
  *applied = rc ? 0 : a.applied;
  return rc;
}

typedef struct InterruptArgs {
  int64_t sweep_id;
  const char *worker;
  size_t n;
} InterruptArgs;

/* One statement of interrupt_body: ?1 sweep id (<= 0: any), ?2 worker, ?3 now. */
static int interrupt_exec(RsStore *st, const InterruptArgs *a, double now, const char *sql) {
  sqlite3_stmt *s;
  int rc = sq_prep(st, sql, &s, "mark interrupted");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, a->sweep_id);
  bind_text(s, 2, a->worker);
  sqlite3_bind_double(s, 3, now);
  return sq_done_final(st, s, "mark interrupted");
}

static int interrupt_body(RsStore *st, void *arg) {
  InterruptArgs *a = arg;
  double now = rs_store_now(st);
  int rc = interrupt_exec(st, a, now,
                          "INSERT INTO events (sweep_id, trial_id, time, kind, message) "
                          "SELECT sweep_id, id, ?3, 'interrupt', 'worker ' || ?2 || ' stopped' FROM trials "
                          "WHERE (?1 <= 0 OR sweep_id = ?1) AND worker = ?2 AND status = 'running'");
  if (rc) return rc;
  rc = interrupt_exec(st, a, now,
                      "UPDATE trials SET status = 'interrupted', lease_until = NULL, ended = ?3 "
                      "WHERE (?1 <= 0 OR sweep_id = ?1) AND worker = ?2 AND status = 'running'");
  a->n = rc ? 0 : (size_t)sqlite3_changes(sq_of(st)->db);
  return rc;
}

static int sq_trials_mark_interrupted(RsStore *st, int64_t sweep_id, const char *worker, size_t *n_marked) {
  InterruptArgs a = {sweep_id, worker, 0};
  int rc = sq_txn(st, SQ_DURABLE, interrupt_body, &a);
  Sq *sq = sq_of(st);
  int lr = sq->last_rc & 0xff;
  if (rc == TR_EDB && (lr == SQLITE_FULL || lr == SQLITE_IOERR)) {
    /* The WAL cannot grow (disk full, `ulimit -f`): move it into the database and
    ** truncate it, which frees its space, then try once more from its start. */
    sqlite3_wal_checkpoint_v2(sq->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    rc = sq_txn(st, SQ_DURABLE, interrupt_body, &a);
  }
  *n_marked = rc ? 0 : a.n;
  return rc;
}

typedef struct TrialGet {
  int64_t id;
  RsTrial *out;
} TrialGet;

#define TRIAL_GET_COLS \
  "id, sweep_id, seed, claim_token, idx, attempts, status, hash, config, params, worker, summary, error, " \
  "checkpoint, lease_until, started, ended, final_metric, best_metric, wall_seconds, flops, best_step, steps, " \
  "tokens, checkpoint_step"

static int trial_get_body(RsStore *st, void *arg) {
  TrialGet *g = arg;
  RsTrial *t = g->out;
  rs_trial_clear(t);
  sqlite3_stmt *s;
  int rc = sq_prep(st,
                   sq_of(st)->version >= 3 ? "SELECT " TRIAL_GET_COLS ", rung FROM trials WHERE id = ?1"
                                           : "SELECT " TRIAL_GET_COLS ", NULL FROM trials WHERE id = ?1",
                   &s, "get trial");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, g->id);
  int r = sqlite3_step(s);
  if (r == SQLITE_ROW) {
    int oom = 0;
    t->id = sqlite3_column_int64(s, 0);
    t->sweep_id = sqlite3_column_int64(s, 1);
    t->seed = sqlite3_column_int64(s, 2);
    t->claim_token = sqlite3_column_int64(s, 3);
    t->idx = sqlite3_column_int(s, 4);
    t->attempts = sqlite3_column_int(s, 5);
    t->status = (RsStatus)rs_status_parse((const char *)sqlite3_column_text(s, 6));
    t->hash = col_text(s, 7, &oom);
    t->config = col_text(s, 8, &oom);
    t->params = col_text(s, 9, &oom);
    t->worker = col_text(s, 10, &oom);
    t->summary = col_text(s, 11, &oom);
    t->error = col_text(s, 12, &oom);
    t->checkpoint = col_text(s, 13, &oom);
    t->lease_until = col_real(s, 14);
    t->started = col_real(s, 15);
    t->ended = col_real(s, 16);
    t->final_metric = col_real(s, 17);
    t->best_metric = col_real(s, 18);
    t->wall_seconds = col_real(s, 19);
    t->flops = col_real(s, 20);
    t->best_step = col_int(s, 21);
    t->steps = col_int(s, 22);
    t->tokens = col_int(s, 23);
    t->checkpoint_step = col_int(s, 24);
    t->rung = col_int(s, 25);
    if (oom) rc = rs_store_fail(st, TR_ENOMEM, "get trial: out of memory");
  } else if (r == SQLITE_DONE) {
    rc = rs_store_fail(st, TR_ENOTFOUND, "no trial with id %lld", (long long)g->id);
  } else {
    rc = sq_fail(st, r, "get trial");
  }
  sqlite3_finalize(s);
  return rc;
}

static int sq_trial_get(RsStore *st, int64_t trial_id, RsTrial *out) {
  TrialGet g = {trial_id, out};
  int rc = sq_txn(st, SQ_READ, trial_get_body, &g);
  if (rc) rs_trial_clear(out);
  return rc;
}

typedef struct RunningArgs {
  int64_t sweep_id;
  RsRunning *v;
  size_t n;
} RunningArgs;

static int running_body(RsStore *st, void *arg) {
  RunningArgs *a = arg;
  rs_running_free(a->v, a->n);
  a->v = NULL;
  a->n = 0;
  sqlite3_stmt *s = NULL, *m = NULL;
  int rc = sq_prep(st, sq_of(st)->version >= 2
                           ? "SELECT id, idx, attempts, worker, params, started, lease_until, heartbeat FROM trials "
                             "WHERE sweep_id = ?1 AND status = 'running' ORDER BY idx"
                           : "SELECT id, idx, attempts, worker, params, started, lease_until, NULL FROM trials "
                             "WHERE sweep_id = ?1 AND status = 'running' ORDER BY idx",
                   &s, "list running trials");
  /* The PRIMARY KEY (trial_id, name, step) makes each of these one index probe. */
  if (!rc) rc = sq_prep(st, "SELECT step, tokens, seconds, value FROM metrics "
                            "WHERE trial_id = ?1 AND name = ?2 ORDER BY step DESC LIMIT 1", &m,
                        "list running trials");
  if (!rc) sqlite3_bind_int64(s, 1, a->sweep_id);
  size_t cap = 0;
  int r = SQLITE_DONE;
  while (!rc && (r = sqlite3_step(s)) == SQLITE_ROW) {
    a->v = sq_grow(st, a->v, a->n, &cap, sizeof *a->v, 8, "list running trials", &rc);
    if (rc) break;
    RsRunning *x = &a->v[a->n++];
    memset(x, 0, sizeof *x);
    int oom = 0;
    x->trial_id = sqlite3_column_int64(s, 0);
    x->idx = sqlite3_column_int(s, 1);
    x->attempts = sqlite3_column_int(s, 2);
    x->worker = col_text(s, 3, &oom);
    x->params = col_text(s, 4, &oom);
    x->started = col_real(s, 5);
    x->lease_until = col_real(s, 6);
    x->heartbeat = col_real(s, 7);
    x->step = x->tokens = -1;
    x->seconds = x->train_loss = x->val_loss = NAN;
    if (oom) rc = rs_store_fail(st, TR_ENOMEM, "list running trials: out of memory");
    for (int k = 0; !rc && k < 2; k++) {
      sqlite3_bind_int64(m, 1, x->trial_id);
      bind_text(m, 2, k == 0 ? "train_loss" : "val_loss");
      int q = sqlite3_step(m);
      if (q == SQLITE_ROW && k == 0) {
        x->step = sqlite3_column_int64(m, 0);
        x->tokens = sqlite3_column_int64(m, 1);
        x->seconds = sqlite3_column_double(m, 2);
        x->train_loss = sqlite3_column_double(m, 3);
      } else if (q == SQLITE_ROW) {
        x->val_loss = sqlite3_column_double(m, 3);
      } else if (q != SQLITE_DONE) {
        rc = sq_fail(st, q, "list running trials");
      }
      sqlite3_reset(m);
    }
  }
  if (!rc && r != SQLITE_DONE) rc = sq_fail(st, r, "list running trials");
  sqlite3_finalize(s);
  sqlite3_finalize(m);
  return rc;
}

static int sq_trials_running(RsStore *st, int64_t sweep_id, RsRunning **out, size_t *n) {
  RunningArgs a = {sweep_id, NULL, 0};
  int rc = sq_txn(st, SQ_READ, running_body, &a);
  if (rc) {
    rs_running_free(a.v, a.n);
    return rc;
  }
  *out = a.v;
  *n = a.n;
  return TR_OK;
}

/* ---- metrics ---- */

typedef struct PutArgs {
  int64_t trial_id, token;
  size_t n;
  const RsMetric *rows;
} PutArgs;

static int put_body(RsStore *st, void *arg) {
  PutArgs *a = arg;
  sqlite3_stmt *s;
  int rc = sq_prep(st, "SELECT 1 FROM trials" HELD, &s, "write metrics");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, a->trial_id);
  sqlite3_bind_int64(s, 2, a->token);
  int r = sqlite3_step(s);
  sqlite3_finalize(s);
  if (r == SQLITE_DONE) return claim_lost(st, a->trial_id, a->token, "write metrics");
  if (r != SQLITE_ROW) return sq_fail(st, r, "write metrics");
  rc = sq_prep(st, "INSERT OR REPLACE INTO metrics (trial_id, name, step, tokens, seconds, value) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &s, "write metrics");
  if (rc) return rc;
  for (size_t i = 0; !rc && i < a->n; i++) {
    const RsMetric *m = &a->rows[i];
    if (isnan(m->value)) continue; /* value is NOT NULL; a NaN loss is told by the trial's status */
    sqlite3_bind_int64(s, 1, a->trial_id);
    bind_text(s, 2, m->name);
    sqlite3_bind_int64(s, 3, m->step);
    sqlite3_bind_int64(s, 4, m->tokens);
    sqlite3_bind_double(s, 5, isnan(m->seconds) ? 0.0 : m->seconds);
    sqlite3_bind_double(s, 6, m->value);
    rc = sq_done(st, s, "write metrics");
    sqlite3_reset(s);
  }
  sqlite3_finalize(s);
  return rc;
}

static int sq_metrics_put(RsStore *st, int64_t trial_id, int64_t token, size_t n, const RsMetric *rows) {
  PutArgs a = {trial_id, token, n, rows};
  return sq_txn(st, SQ_WRITE, put_body, &a);
}

typedef struct ReadArgs {
  int64_t trial_id;
  const char *name;
  RsPoint *v;
  size_t n;
} ReadArgs;

static int read_body(RsStore *st, void *arg) {
  ReadArgs *a = arg;
  free(a->v);
  a->v = NULL;
  a->n = 0;
  sqlite3_stmt *s;
  int rc = sq_prep(st, "SELECT step, tokens, seconds, value FROM metrics WHERE trial_id = ?1 AND name = ?2 "
                       "ORDER BY step", &s, "read metrics");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, a->trial_id);
  bind_text(s, 2, a->name);
  size_t cap = 0;
  int r;
  while ((r = sqlite3_step(s)) == SQLITE_ROW) {
    a->v = sq_grow(st, a->v, a->n, &cap, sizeof *a->v, 64, "read metrics", &rc);
    if (rc) break;
    a->v[a->n++] = (RsPoint){sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
                             sqlite3_column_double(s, 2), sqlite3_column_double(s, 3)};
  }
  if (!rc && r != SQLITE_DONE) rc = sq_fail(st, r, "read metrics");
  sqlite3_finalize(s);
  return rc;
}

static int sq_metrics_read(RsStore *st, int64_t trial_id, const char *name, RsPoint **out, size_t *n) {
  ReadArgs a = {trial_id, name, NULL, 0};
  int rc = sq_txn(st, SQ_READ, read_body, &a);
  if (rc) {
    free(a.v);
    return rc;
  }
  *out = a.v;
  *n = a.n;
  return TR_OK;
}

/* ---- events ---- */

typedef struct EventArgs {
  int64_t sweep_id, trial_id;
  const char *kind, *message;
} EventArgs;

static int event_body(RsStore *st, void *arg) {
  EventArgs *a = arg;
  return event_insert(st, a->sweep_id, a->trial_id, a->kind, a->message);
}

static int sq_event_add(RsStore *st, int64_t sweep_id, int64_t trial_id, const char *kind,
                        const char *message) {
  EventArgs a = {sweep_id, trial_id, kind, message};
  return sq_txn(st, SQ_WRITE, event_body, &a);
}

/* ---- reads: the primitives of rs_query.c ----
** Each is one walk over one statement (or a few), on the snapshot when one is open, else
** statement by statement like any reader: no retry loop, since a row callback must see
** each row once. A callback's non-zero return stops the walk and is returned. */

static int sq_snapshot_begin(RsStore *st) {
  Sq *sq = sq_of(st);
  if (sq->snapshot) return TR_OK;
  int rc = sq_exec(st, "BEGIN", "begin snapshot");
  if (rc == TR_OK) sq->snapshot = 1;
  return rc;
}

static void sq_snapshot_end(RsStore *st) {
  Sq *sq = sq_of(st);
  if (!sq->snapshot) return;
  sqlite3_exec(sq->db, "COMMIT", NULL, NULL, NULL);
  sq->snapshot = 0;
}

/* Step s to its end, calling row(s) for each row; then finalize. */
typedef int (*SqRowFn)(sqlite3_stmt *s, void *arg);

static int sq_walk(RsStore *st, sqlite3_stmt *s, SqRowFn row, void *arg, const char *what) {
  int r, rc = TR_OK;
  while ((r = sqlite3_step(s)) == SQLITE_ROW)
    if ((rc = row(s, arg)) != TR_OK) break;
  if (rc != TR_OK)
    rc = rs_store_fail(st, rc, "%s: %s", what, rc == TR_ENOMEM ? "out of memory" : "stopped by the reader");
  else if (r != SQLITE_DONE)
    rc = sq_fail(st, r, what);
  sqlite3_finalize(s);
  return rc;
}

/* A walk's callback and its context. */
typedef struct Walk {
  union {
    RsTrialFn trial;
    RsNameFn name;
    RsParamFn param;
    RsTrialValueFn value;
    RsMetricRowFn row;
    RsEventFn event;
  } fn;
  void *ctx;
} Walk;

/* The walk of a statement with ?1 = id (and ?2 = text when given). */
static int sq_walk_id(RsStore *st, const char *sql, int64_t id, const char *text, SqRowFn row, void *arg,
                      const char *what) {
  sqlite3_stmt *s;
  int rc = sq_prep(st, sql, &s, what);
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, id);
  if (text) bind_text(s, 2, text);
  return sq_walk(st, s, row, arg, what);
}

static int trial_walk_row(sqlite3_stmt *s, void *arg) {
  Walk *w = arg;
  RsTrial t;
  memset(&t, 0, sizeof t);
  t.id = sqlite3_column_int64(s, 0);
  t.sweep_id = sqlite3_column_int64(s, 1);
  t.idx = sqlite3_column_int(s, 2);
  t.seed = col_int(s, 3);
  t.attempts = (int)col_int(s, 4);
  t.status = (RsStatus)rs_status_parse((const char *)sqlite3_column_text(s, 5));
  /* Borrowed for the call: the callback copies what it keeps. */
  t.hash = (char *)sqlite3_column_text(s, 6);
  t.config = (char *)sqlite3_column_text(s, 7);
  t.params = (char *)sqlite3_column_text(s, 8);
  t.error = (char *)sqlite3_column_text(s, 9);
  t.best_metric = col_real(s, 10);
  t.final_metric = col_real(s, 11);
  t.best_step = col_int(s, 12);
  t.steps = col_int(s, 13);
  t.tokens = col_int(s, 14);
  t.wall_seconds = col_real(s, 15);
  t.flops = col_real(s, 16);
  t.started = col_real(s, 17);
  t.ended = col_real(s, 18);
  t.rung = col_int(s, 19);
  t.lease_until = NAN;
  t.checkpoint_step = -1;
  return w->fn.trial(w->ctx, &t);
}

#define RESULT_COLS \
  "id, sweep_id, idx, seed, attempts, status, hash, config, params, error, best_metric, " \
  "final_metric, best_step, steps, tokens, wall_seconds, flops, started, ended, "
/* RESULT_COLS's last column: rung (v3), NULL in an older file opened read-only. */
#define RESULT_RUNG(st) (sq_of(st)->version >= 3 ? "rung" : "NULL")

static int sq_trials_each(RsStore *st, int64_t sweep_id, RsTrialFn fn, void *ctx) {
  Walk w = {.fn.trial = fn, .ctx = ctx};
  char sql[400];
  snprintf(sql, sizeof sql, "SELECT " RESULT_COLS "%s FROM trials WHERE sweep_id = ?1 ORDER BY idx, id",
           RESULT_RUNG(st));
  return sq_walk_id(st, sql, sweep_id, NULL, trial_walk_row, &w, "trials");
}

static int sq_trial_best(RsStore *st, int64_t sweep_id, int maximize, unsigned statuses, RsTrial *out) {
  /* The statuses as an IN list: a fixed text, no user input. */
  char in[128] = "";
  size_t len = 0;
  for (int k = 0; k < RS_STATUS_COUNT; k++)
    if (statuses & RS_STATUS_BIT(k))
      len += (size_t)snprintf(in + len, sizeof in - len, "%s'%s'", len ? ", " : "", rs_status_name((RsStatus)k));
  if (!len) return rs_store_fail(st, TR_ENOTFOUND, "best trial: no status asked for");
  char sql[512];
  snprintf(sql, sizeof sql,
           "SELECT " RESULT_COLS "%s FROM trials WHERE sweep_id = ?1 AND best_metric IS NOT NULL AND "
           "status IN (%s) ORDER BY best_metric %s, idx LIMIT 1", RESULT_RUNG(st), in, maximize ? "DESC" : "ASC");
  out->id = -1;
  Walk w = {.fn.trial = rs_trial_copy, .ctx = out};
  int rc = sq_walk_id(st, sql, sweep_id, NULL, trial_walk_row, &w, "best trial");
  if (rc) {
    rs_trial_clear(out);
    return rc;
  }
  if (out->id < 0) {
    memset(out, 0, sizeof *out);
    return rs_store_fail(st, TR_ENOTFOUND, "sweep %lld has no trial with a metric", (long long)sweep_id);
  }
  return TR_OK;
}

static int name_walk_row(sqlite3_stmt *s, void *arg) {
  Walk *w = arg;
  const char *name = (const char *)sqlite3_column_text(s, 0);
  return name ? w->fn.name(w->ctx, name) : TR_OK;
}

static int sq_sweep_param_keys(RsStore *st, int64_t sweep_id, RsNameFn fn, void *ctx) {
  Walk w = {.fn.name = fn, .ctx = ctx};
  return sq_walk_id(st, "SELECT j.key FROM trials t, json_each(t.params) j WHERE t.sweep_id=?1 "
                        "GROUP BY j.key ORDER BY min(t.idx), min(j.id)", sweep_id, NULL, name_walk_row, &w,
                    "parameter names");
}

static int param_walk_row(sqlite3_stmt *s, void *arg) {
  Walk *w = arg;
  RsParamValue v;
  v.trial_id = sqlite3_column_int64(s, 0);
  v.key = (const char *)sqlite3_column_text(s, 1);
  v.text = (const char *)sqlite3_column_text(s, 2);
  v.numeric = sqlite3_column_int(s, 3);
  v.num = v.numeric ? sqlite3_column_double(s, 4) : NAN;
  if (!v.key) return TR_OK;
  if (!v.text) v.text = "null";
  return w->fn.param(w->ctx, &v);
}

static int sq_sweep_param_values(RsStore *st, int64_t sweep_id, RsParamFn fn, void *ctx) {
  Walk w = {.fn.param = fn, .ctx = ctx};
  return sq_walk_id(st, "SELECT t.id, j.key, CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
                        "WHEN 'null' THEN 'null' ELSE CAST(j.value AS TEXT) END, "
                        "j.type IN ('integer','real'), j.value "
                        "FROM trials t, json_each(t.params) j WHERE t.sweep_id=?1", sweep_id, NULL,
                    param_walk_row, &w, "parameter values");
}

static int event_walk_row(sqlite3_stmt *s, void *arg) {
  Walk *w = arg;
  RsEvent e = {sqlite3_column_int64(s, 0), col_int(s, 1), sqlite3_column_double(s, 2),
               (const char *)sqlite3_column_text(s, 3), (const char *)sqlite3_column_text(s, 4),
               (const char *)sqlite3_column_text(s, 5)};
  return w->fn.event(w->ctx, &e);
}

static int sq_sweep_events_each(RsStore *st, int64_t sweep_id, const char *kind, RsEventFn fn, void *ctx) {
  Walk w = {.fn.event = fn, .ctx = ctx};
  return sq_walk_id(st, kind ? "SELECT id, trial_id, time, kind, message, detail FROM events WHERE sweep_id = ?1 "
                               "AND kind = ?2 ORDER BY id"
                             : "SELECT id, trial_id, time, kind, message, detail FROM events WHERE sweep_id = ?1 "
                               "ORDER BY id", sweep_id, kind, event_walk_row, &w, "events");
}

static int sq_sweep_metric_names(RsStore *st, int64_t sweep_id, RsNameFn fn, void *ctx) {
  Walk w = {.fn.name = fn, .ctx = ctx};
  return sq_walk_id(st, "SELECT DISTINCT m.name FROM metrics m JOIN trials t ON t.id=m.trial_id "
                        "WHERE t.sweep_id=?1 ORDER BY m.name", sweep_id, NULL, name_walk_row, &w,
                    "metric names");
}

static int value_walk_row(sqlite3_stmt *s, void *arg) {
  Walk *w = arg;
  return w->fn.value(w->ctx, sqlite3_column_int64(s, 0), col_int(s, 2), col_real(s, 1));
}

static int sq_sweep_metric_agg(RsStore *st, int64_t sweep_id, const char *name, RsAgg agg, RsTrialValueFn fn,
                               void *ctx) {
  /* SQLite: a bare column next to min()/max() comes from the row holding the extreme. */
  static const char *const sql[] = {
      "SELECT m.trial_id, min(m.value), m.step FROM metrics m JOIN trials t ON t.id=m.trial_id "
      "WHERE t.sweep_id=?1 AND m.name=?2 GROUP BY m.trial_id",
      "SELECT m.trial_id, max(m.value), m.step FROM metrics m JOIN trials t ON t.id=m.trial_id "
      "WHERE t.sweep_id=?1 AND m.name=?2 GROUP BY m.trial_id",
      "SELECT m.trial_id, m.value, max(m.step) FROM metrics m JOIN trials t ON t.id=m.trial_id "
      "WHERE t.sweep_id=?1 AND m.name=?2 GROUP BY m.trial_id"};
  if ((unsigned)agg > RS_AGG_LAST) return rs_store_fail(st, TR_EINVAL, "metric per trial: bad aggregate");
  Walk w = {.fn.value = fn, .ctx = ctx};
  return sq_walk_id(st, sql[agg], sweep_id, name, value_walk_row, &w, "metric per trial");
}

static int row_walk_row(sqlite3_stmt *s, void *arg) {
  Walk *w = arg;
  const char *name = (const char *)sqlite3_column_text(s, 1);
  return name ? w->fn.row(w->ctx, sqlite3_column_int64(s, 0), name, col_real(s, 2)) : TR_OK;
}

static int sq_sweep_metrics_each(RsStore *st, int64_t sweep_id, const char *const *names, size_t n,
                                 RsMetricRowFn fn, void *ctx) {
  sqlite3_stmt *s;
  char sql[512];
  size_t len = (size_t)snprintf(sql, sizeof sql, "SELECT trial_id, name, value FROM metrics WHERE trial_id IN "
                                                 "(SELECT id FROM trials WHERE sweep_id=?1) AND name IN (");
  if (n == 0 || n > 32) return rs_store_fail(st, TR_EINVAL, "metric rows: 1 to 32 names");
  for (size_t i = 0; i < n; i++) len += (size_t)snprintf(sql + len, sizeof sql - len, "%s?%zu", i ? "," : "", i + 2);
  snprintf(sql + len, sizeof sql - len, ") ORDER BY trial_id, step");
  int rc = sq_prep(st, sql, &s, "metric rows");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, sweep_id);
  for (size_t i = 0; i < n; i++) bind_text(s, (int)i + 2, names[i]);
  Walk w = {.fn.row = fn, .ctx = ctx};
  return sq_walk(st, s, row_walk_row, &w, "metric rows");
}

static int sq_trials_span(RsStore *st, int64_t *lo, int64_t *hi, int64_t *n) {
  sqlite3_stmt *s;
  int rc = sq_prep(st, "SELECT min(id), max(id), count(*) FROM trials", &s, "list trials");
  if (rc) return rc;
  int r = sqlite3_step(s);
  if (r == SQLITE_ROW) *lo = col_int(s, 0), *hi = col_int(s, 1), *n = sqlite3_column_int64(s, 2);
  else rc = sq_fail(st, r, "list trials");
  sqlite3_finalize(s);
  return rc;
}

/* The SELECT of an export: trials with one column per parameter key, or metric rows. */
static char *export_sql(RsStore *st, int metrics, const char *const *keys, size_t nkeys) {
  static const char *const msql = "SELECT m.trial_id AS trial, m.name, m.step, m.tokens, m.seconds, m.value "
                                  "FROM metrics m JOIN trials t ON t.id=m.trial_id WHERE t.sweep_id=?1 "
                                  "ORDER BY m.trial_id, m.name, m.step";
  size_t cap = 1024;
  for (size_t i = 0; !metrics && i < nkeys; i++) cap += 2 * strlen(keys[i]) + 64;
  char *sql = tr_malloc(cap);
  if (!sql) {
    rs_store_fail(st, TR_ENOMEM, "export: out of memory");
    return NULL;
  }
  if (metrics) return strcpy(sql, msql);
  size_t len = (size_t)snprintf(sql, cap, "SELECT t.id AS trial, t.idx, t.hash, t.status, t.seed, t.attempts");
  for (size_t i = 0; i < nkeys; i++)
    if (rs_plain_key(keys[i]))
      len += (size_t)snprintf(sql + len, cap - len, ", json_extract(t.params, '$.\"%s\"') AS \"%s\"", keys[i],
                              keys[i]);
  snprintf(sql + len, cap - len,
           ", t.best_metric, t.final_metric, t.best_step, t.steps, t.tokens, t.wall_seconds, "
           "t.flops, t.started, t.ended, t.params, t.error FROM trials t WHERE t.sweep_id=?1 "
           "ORDER BY t.idx, t.id");
  return sql;
}

typedef struct ExportWalk {
  RsRowFn fn;
  void *ctx;
  int nc;
  const char **names;
  RsValue *vals;
} ExportWalk;

static int export_row(sqlite3_stmt *s, void *arg) {
  ExportWalk *w = arg;
  for (int c = 0; c < w->nc; c++) {
    RsValue *v = &w->vals[c];
    memset(v, 0, sizeof *v);
    switch (sqlite3_column_type(s, c)) {
      case SQLITE_NULL: v->type = RS_VAL_NULL; break;
      case SQLITE_INTEGER: v->type = RS_VAL_INT, v->i = sqlite3_column_int64(s, c); break;
      case SQLITE_FLOAT: v->type = RS_VAL_REAL, v->d = sqlite3_column_double(s, c); break;
      default: v->type = RS_VAL_TEXT, v->s = (const char *)sqlite3_column_text(s, c);
    }
  }
  return w->fn(w->ctx, (size_t)w->nc, w->names, w->vals);
}

static int sq_sweep_export(RsStore *st, int64_t sweep_id, int metrics, const char *const *keys, size_t nkeys,
                           RsRowFn fn, void *ctx) {
  char *sql = export_sql(st, metrics, keys, nkeys);
  if (!sql) return TR_ENOMEM;
  sqlite3_stmt *s;
  int rc = sq_prep(st, sql, &s, "export");
  free(sql);
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, sweep_id);
  ExportWalk w = {fn, ctx, sqlite3_column_count(s), NULL, NULL};
  w.names = tr_malloc(((size_t)w.nc + 1) * sizeof *w.names);
  w.vals = tr_malloc(((size_t)w.nc + 1) * sizeof *w.vals);
  if (!w.names || !w.vals) {
    free(w.names), free(w.vals);
    sqlite3_finalize(s);
    return rs_store_fail(st, TR_ENOMEM, "export: out of memory");
  }
  for (int c = 0; c < w.nc; c++) w.names[c] = sqlite3_column_name(s, c);
  rc = fn(ctx, (size_t)w.nc, w.names, NULL); /* the header */
  if (rc) {
    sqlite3_finalize(s);
    rc = rs_store_fail(st, rc, "export: %s", rc == TR_ENOMEM ? "out of memory" : "stopped by the writer");
  } else {
    rc = sq_walk(st, s, export_row, &w, "export");
  }
  free(w.names), free(w.vals);
  return rc;
}

static int sq_sweep_mean_seconds(RsStore *st, int64_t sweep_id, double *out) {
  sqlite3_stmt *s;
  int rc = sq_prep(st, "SELECT avg(wall_seconds) FROM trials WHERE sweep_id = ?1 AND "
                       "status IN ('completed', 'diverged') AND wall_seconds > 0", &s, "mean trial time");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, sweep_id);
  int r = sqlite3_step(s);
  if (r == SQLITE_ROW) *out = col_real(s, 0);
  else rc = sq_fail(st, r, "mean trial time");
  sqlite3_finalize(s);
  return rc;
}

static int sq_trial_config_int(RsStore *st, int64_t trial_id, const char *key, int64_t *out) {
  sqlite3_stmt *s;
  int rc = sq_prep(st, "SELECT json_extract(config, '$.' || ?2) FROM trials WHERE id = ?1", &s, "trial config");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, trial_id);
  bind_text(s, 2, key);
  int r = sqlite3_step(s);
  if (r == SQLITE_ROW) *out = col_int(s, 0);
  else if (r == SQLITE_DONE) rc = rs_store_fail(st, TR_ENOTFOUND, "no trial with id %lld", (long long)trial_id);
  else rc = sq_fail(st, r, "trial config");
  sqlite3_finalize(s);
  return rc;
}

/* ---- same-host reclaim ---- */

static int expire_body(RsStore *st, void *arg) {
  RsExpireArgs *a = arg;
  a->n = 0;
  double now = rs_store_now(st);
  sqlite3_stmt *s, *u = NULL;
  int rc = sq_prep(st, "SELECT id, claim_token, worker, owner FROM trials WHERE sweep_id = ?1 AND status = 'running' "
                       "AND lease_until >= ?2 AND owner IS NOT NULL ORDER BY idx", &s, "expire leases");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, a->sweep_id);
  sqlite3_bind_double(s, 2, now);
  int r;
  while (!rc && (r = sqlite3_step(s)) == SQLITE_ROW) {
    const char *worker = (const char *)sqlite3_column_text(s, 2);
    if (!a->dead(a->ctx, worker, (const char *)sqlite3_column_text(s, 3))) continue;
    int64_t id = sqlite3_column_int64(s, 0);
    if (!u && (rc = sq_prep(st, "UPDATE trials SET lease_until = ?3 WHERE id = ?1 AND claim_token = ?2 AND "
                                "status = 'running'", &u, "expire leases")))
      break;
    sqlite3_bind_int64(u, 1, id);
    sqlite3_bind_int64(u, 2, sqlite3_column_int64(s, 1));
    sqlite3_bind_double(u, 3, now - 1e-3); /* a claim reclaims a lease_until < its now */
    int q = sqlite3_step(u);
    sqlite3_reset(u);
    if (q != SQLITE_DONE) rc = sq_fail(st, q, "expire leases");
    char msg[300];
    rs_expire_text(worker, msg, sizeof msg);
    if (!rc) rc = event_insert(st, a->sweep_id, id, "expire", msg);
    a->n++;
  }
  if (!rc && r != SQLITE_DONE) rc = sq_fail(st, r, "expire leases");
  sqlite3_finalize(s);
  sqlite3_finalize(u);
  return rc;
}

static int sq_trials_expire_dead(RsStore *st, int64_t sweep_id, RsOwnerDeadFn dead, void *ctx, size_t *n) {
  RsExpireArgs a = {sweep_id, dead, ctx, 0};
  int rc = sq_txn(st, SQ_DURABLE, expire_body, &a);
  *n = rc ? 0 : a.n;
  return rc;
}

/* ---- copy (rs_sweep_copy) ---- */

/* The statements of a sweep's rows (?1 = its id), by table; %s: the column list. */
static const char *const copy_select[RS_COPY_TABLES] = {
    "SELECT %s FROM sweeps WHERE id = ?1",
    "SELECT %s FROM trials WHERE sweep_id = ?1 ORDER BY id",
    "SELECT %s FROM metrics m JOIN trials t ON t.id = m.trial_id WHERE t.sweep_id = ?1 "
    "ORDER BY m.trial_id, m.name, m.step",
    "SELECT %s FROM events WHERE sweep_id = ?1 OR trial_id IN (SELECT id FROM trials WHERE sweep_id = ?1) "
    "ORDER BY id"};

typedef struct RowsArgs {
  const char *name;
  RsCopyRowFn fn;
  void *ctx;
  RsCopyPlan plan;
  RsCopyTable table;
  RsValue vals[RS_COPY_MAXCOL];
} RowsArgs;

static int copy_row(sqlite3_stmt *s, void *arg) {
  RowsArgs *a = arg;
  const char *ty = rs_copy_types(a->table);
  for (int c = 0; ty[c]; c++) {
    RsValue *v = &a->vals[c];
    memset(v, 0, sizeof *v);
    if (sqlite3_column_type(s, c) == SQLITE_NULL) v->type = RS_VAL_NULL;
    else if (ty[c] == 'i') v->type = RS_VAL_INT, v->i = sqlite3_column_int64(s, c);
    else if (ty[c] == 'r') v->type = RS_VAL_REAL, v->d = sqlite3_column_double(s, c);
    else v->type = RS_VAL_TEXT, v->s = (const char *)sqlite3_column_text(s, c);
  }
  return a->fn(a->ctx, &a->plan, a->table, a->vals);
}

/* The plan: rows and id ranges of each table. */
static int copy_plan(RsStore *st, int64_t id, RsCopyPlan *p) {
  sqlite3_stmt *s;
  int rc = sq_prep(st, "SELECT 1, ?1, ?1, count(*), min(id), max(id), "
                       "(SELECT count(*) FROM metrics WHERE trial_id IN (SELECT id FROM trials WHERE sweep_id = ?1)), "
                       "(SELECT count(*) FROM events WHERE sweep_id = ?1 OR trial_id IN "
                       "(SELECT id FROM trials WHERE sweep_id = ?1)), "
                       "(SELECT min(id) FROM events WHERE sweep_id = ?1 OR trial_id IN "
                       "(SELECT id FROM trials WHERE sweep_id = ?1)), "
                       "(SELECT max(id) FROM events WHERE sweep_id = ?1 OR trial_id IN "
                       "(SELECT id FROM trials WHERE sweep_id = ?1)) FROM trials WHERE sweep_id = ?1",
                   &s, "read sweep rows");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, id);
  int r = sqlite3_step(s);
  if (r == SQLITE_ROW) {
    for (int t = 0, c = 0; t < RS_COPY_TABLES; t++) {
      p->rows[t] = col_int(s, c++);
      p->lo[t] = t == RS_COPY_METRICS ? -1 : col_int(s, c++);
      p->hi[t] = t == RS_COPY_METRICS ? -1 : col_int(s, c++);
    }
  }
  sqlite3_finalize(s);
  return r == SQLITE_ROW ? TR_OK : sq_fail(st, r, "read sweep rows");
}

static int rows_body(RsStore *st, void *arg) {
  RowsArgs *a = arg;
  if (sq_of(st)->version < RS_SCHEMA_VERSION)
    return rs_store_fail(st, TR_EINVAL, "copy: schema version %d is older than %d: run any write command "
                         "(e.g. hpsweep run) on it once to migrate it", sq_of(st)->version, RS_SCHEMA_VERSION);
  int64_t id;
  int rc = sweep_id_of(st, a->name, &id);
  if (rc || (rc = copy_plan(st, id, &a->plan))) return rc;
  char cols[1024], sql[2048];
  for (int t = 0; t < RS_COPY_TABLES && !rc; t++) {
    rs_copy_column_list((RsCopyTable)t, t == RS_COPY_METRICS ? "m." : "", cols, sizeof cols);
    snprintf(sql, sizeof sql, copy_select[t], cols);
    a->table = (RsCopyTable)t;
    rc = sq_walk_id(st, sql, id, NULL, copy_row, a, "read sweep rows");
  }
  return rc;
}

static int sq_sweep_rows(RsStore *st, const char *name, RsCopyRowFn fn, void *ctx) {
  RowsArgs a = {.name = name, .fn = fn, .ctx = ctx};
  return sq_txn(st, SQ_READ, rows_body, &a);
}

/* The target's statements, one INSERT per table, prepared at its first row. */
typedef struct SqLoad {
  sqlite3_stmt *ins[RS_COPY_TABLES];
} SqLoad;

static int load_clear(RsCopyWriter *w, int *exists) {
  DeleteArgs d = {w->name, 0, 1};
  *exists = 0;
  if (!w->replace) {
    int64_t n = 0;
    sqlite3_stmt *s;
    int rc = sq_prep(w->st, "SELECT count(*) FROM sweeps WHERE name = ?1", &s, "find sweep");
    if (rc) return rc;
    bind_text(s, 1, w->name);
    if (sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    *exists = n > 0;
    return TR_OK;
  }
  int rc = delete_body(w->st, &d);
  if (rc == TR_ENOTFOUND) return w->st->errcode = TR_OK;
  *exists = rc == TR_OK;
  w->replaced_trials = d.n;
  return rc;
}

static int load_ids(RsCopyWriter *w, RsCopyTable t, int64_t lo, int64_t hi, int *taken, int64_t *max) {
  char sql[256];
  const char *tn = rs_copy_table_name(t);
  snprintf(sql, sizeof sql, "SELECT EXISTS (SELECT 1 FROM %s WHERE id BETWEEN ?1 AND ?2), "
           "(SELECT COALESCE(max(id), 0) FROM %s)", tn, tn);
  sqlite3_stmt *s;
  int rc = sq_prep(w->st, sql, &s, "copy: read ids");
  if (rc) return rc;
  sqlite3_bind_int64(s, 1, lo);
  sqlite3_bind_int64(s, 2, hi);
  int r = sqlite3_step(s);
  if (r == SQLITE_ROW) *taken = sqlite3_column_int(s, 0), *max = sqlite3_column_int64(s, 1);
  sqlite3_finalize(s);
  return r == SQLITE_ROW ? TR_OK : sq_fail(w->st, r, "copy: read ids");
}

static int load_put(RsCopyWriter *w, RsCopyTable t, const RsValue *vals) {
  SqLoad *l = w->impl;
  size_t nc;
  rs_copy_columns(t, &nc);
  if (!l->ins[t]) {
    char cols[1024], sql[2048];
    int k = snprintf(sql, sizeof sql, "INSERT INTO %s (", rs_copy_table_name(t));
    rs_copy_column_list(t, "", cols, sizeof cols);
    k += snprintf(sql + k, sizeof sql - (size_t)k, "%s) VALUES (", cols);
    for (size_t c = 0; c < nc; c++) k += snprintf(sql + k, sizeof sql - (size_t)k, c ? ", ?" : "?");
    snprintf(sql + k, sizeof sql - (size_t)k, ")");
    int rc = sq_prep(w->st, sql, &l->ins[t], "copy");
    if (rc) return rc;
  }
  sqlite3_stmt *s = l->ins[t];
  for (size_t c = 0; c < nc; c++) {
    const RsValue *v = &vals[c];
    int i = (int)c + 1;
    if (v->type == RS_VAL_INT) sqlite3_bind_int64(s, i, v->i);
    else if (v->type == RS_VAL_REAL) sqlite3_bind_double(s, i, v->d);
    else if (v->type == RS_VAL_TEXT) sqlite3_bind_text(s, i, v->s, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, i);
  }
  int r = sqlite3_step(s);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (r != SQLITE_DONE) {
    char what[64];
    snprintf(what, sizeof what, "copy into %s", rs_copy_table_name(t));
    return sq_fail(w->st, r, what);
  }
  return TR_OK;
}

typedef struct LoadArgs {
  RsCopyWriter *w;
  RsCopyFeedFn feed;
  void *feed_ctx;
} LoadArgs;

static int load_body(RsStore *st, void *arg) {
  LoadArgs *a = arg;
  SqLoad *l = a->w->impl;
  RsCopyStats *stats = a->w->stats;
  memset(stats, 0, sizeof *stats);
  a->w->started = 0;
  int rc = a->feed(a->feed_ctx, rs_copy_sink, a->w);
  for (int t = 0; t < RS_COPY_TABLES; t++) {
    sqlite3_finalize(l->ins[t]);
    l->ins[t] = NULL;
  }
  if (!rc && !a->w->started) rc = rs_store_fail(st, TR_EDB, "copy: the source gave no sweep row");
  char msg[300];
  if (!rc && rs_copy_replace_text(a->w, msg, sizeof msg)) rc = event_insert(st, 0, 0, "delete", msg);
  return rc;
}

static int sq_sweep_load(RsStore *st, const char *name, int replace, RsCopyFeedFn feed, void *feed_ctx,
                         RsCopyStats *out) {
  SqLoad l = {{NULL}};
  RsCopyWriter w = {.st = st, .name = name, .replace = replace, .stats = out, .clear = load_clear,
                    .ids = load_ids, .put = load_put, .impl = &l};
  LoadArgs a = {&w, feed, feed_ctx};
  int rc = sq_txn(st, SQ_DURABLE, load_body, &a);
  rs_copy_writer_free(&w);
  return rc;
}

/* The file's device and inode: two paths to one file are one store. */
static int sq_store_identity(RsStore *st, char *buf, size_t n) {
  const char *file = sqlite3_db_filename(sq_of(st)->db, "main");
  struct stat sb;
  if (!file || !*file || stat(file, &sb) != 0) return rs_store_fail(st, TR_EIO, "cannot stat the database file");
  snprintf(buf, n, "sqlite:%llu:%llu", (unsigned long long)sb.st_dev, (unsigned long long)sb.st_ino);
  return TR_OK;
}

static const RsStoreOps sq_ops = {
    .name = "sqlite",
    .close = sq_close,
    .sweep_upsert = sq_sweep_upsert,
    .sweep_get = sq_sweep_get,
    .sweeps_list = sq_sweeps_list,
    .sweep_counts = sq_sweep_counts,
    .trials_insert = sq_trials_insert,
    .trial_claim = sq_trial_claim,
    .trial_heartbeat = sq_trial_heartbeat,
    .trial_set_checkpoint = sq_trial_set_checkpoint,
    .trial_reset = sq_trial_reset,
    .trial_resume_at = sq_trial_resume_at,
    .trial_finish = sq_trial_finish,
    .trial_judge = sq_trial_judge,
    .trials_mark_interrupted = sq_trials_mark_interrupted,
    .trial_get = sq_trial_get,
    .trials_running = sq_trials_running,
    .metrics_put = sq_metrics_put,
    .metrics_read = sq_metrics_read,
    .event_add = sq_event_add,
    .sweep_delete = sq_sweep_delete,
    .trial_keys = sq_trial_keys,
    .snapshot_begin = sq_snapshot_begin,
    .snapshot_end = sq_snapshot_end,
    .trials_each = sq_trials_each,
    .trial_best = sq_trial_best,
    .sweep_param_keys = sq_sweep_param_keys,
    .sweep_param_values = sq_sweep_param_values,
    .sweep_events_each = sq_sweep_events_each,
    .sweep_metric_names = sq_sweep_metric_names,
    .sweep_metric_agg = sq_sweep_metric_agg,
    .sweep_metrics_each = sq_sweep_metrics_each,
    .trials_span = sq_trials_span,
    .sweep_export = sq_sweep_export,
    .sweep_mean_seconds = sq_sweep_mean_seconds,
    .trial_config_int = sq_trial_config_int,
    .sweep_rows = sq_sweep_rows,
    .sweep_load = sq_sweep_load,
    .store_identity = sq_store_identity,
    .trials_expire_dead = sq_trials_expire_dead,
};
