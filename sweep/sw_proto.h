/*
** sw_proto.h: the metrics protocol's line parser. A trial's program writes one JSON
** object per line to HPSWEEP_METRICS_FD; every numeric field is a metric row at the
** line's step. docs/programs.md "The metrics protocol" is the user-facing grammar.
**
** Contract:
** - Streaming: sw_proto_feed takes bytes in arbitrary chunks (as read() returns them)
**   and calls ROW(ctx, name, step, value) for each row of each complete line, in the
**   line's field order, before it returns. sw_proto_finish parses a last line that has
**   no newline. A line is parsed whole or not at all: a bad line emits no row.
** - Line: optional whitespace, a JSON object, optional whitespace; a trailing CR is
**   whitespace. Blank lines are ignored (not bad, no step). Python's NaN, Infinity and
**   -Infinity tokens are accepted as numbers (json.dumps writes them) and passed on as
**   NaN and +-inf; a number beyond the double range is +-inf, as strtod reads it.
** - Step: "step" (reserved) must be an integral number in [0, 2^53]. A valid line
**   without "step" gets the previous valid line's step + 1 (a bad step when that is
**   past 2^53); the first line's step is 0. Steps may go backwards: the protocol does not reorder, the caller decides.
** - Fields: a number (or NaN/Infinity) field is a row. Any other value (string,
**   true/false, null, array, object) is skipped and counted (SW_PROTO_BAD_VALUE); the
**   rest of the line still counts. A name that is empty, has a control byte or is
**   >= RS_METRIC_NAME_MAX bytes is skipped and counted (SW_PROTO_BAD_NAME). A name
**   repeated in one line: the last value wins, each repeat counted (SW_PROTO_BAD_DUP).
** - Bad lines (whole line skipped, no step taken): not JSON, JSON but not an object,
**   invalid UTF-8 in a string, nesting deeper than SW_PROTO_DEPTH_MAX, a bad "step",
**   more than SW_PROTO_LINE_MAX bytes (skipped up to the next newline without being
**   buffered). Each problem is counted by kind; the first SW_PROTO_KEEP problems are
**   kept as one-line messages "line N: reason" (N counts every line from 1, blank
**   ones too), the rest only counted. Memory is bounded by SW_PROTO_LINE_MAX whatever
**   is fed; work is linear in the bytes fed (plus n log n in a line's field count).
** - Numbers are read with strtod: the process must run in the "C" LC_NUMERIC locale
**   (hpsweep never calls setlocale).
** - ROW returns 0 to go on; a non-zero return stops sw_proto_feed, which returns it
**   (the caller's TrCode, its message in the caller's TrErr, else a generic one): the
**   rest of that line's rows and of that buffer are dropped. TR_ENOMEM when a line's
**   field array cannot grow (that line dropped). The parser stays usable after both.
*/
#ifndef SW_PROTO_H
#define SW_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "tr_err.h"

#define SW_PROTO_LINE_MAX 65536 /* bytes of one line, newline excluded */
#define SW_PROTO_DEPTH_MAX 32   /* nesting of a skipped array/object value */
#define SW_PROTO_KEEP 5         /* messages kept */
#define SW_PROTO_MSG_MAX 160    /* bytes of one message, NUL included */
#define SW_PROTO_STEP_MAX 9007199254740992.0 /* 2^53: every step is exact in a double */

typedef enum SwProtoBad {
  SW_PROTO_BAD_JSON = 0,  /* line: not JSON */
  SW_PROTO_BAD_NOT_OBJECT,/* line: JSON, not an object */
  SW_PROTO_BAD_UTF8,      /* line: invalid UTF-8 in a string */
  SW_PROTO_BAD_DEPTH,     /* line: nested deeper than SW_PROTO_DEPTH_MAX */
  SW_PROTO_BAD_STEP,      /* line: "step" not an integer in [0, 2^53] */
  SW_PROTO_BAD_LONG,      /* line: over SW_PROTO_LINE_MAX bytes */
  SW_PROTO_BAD_VALUE,     /* field: value not a number */
  SW_PROTO_BAD_NAME,      /* field: name empty, too long or with a control byte */
  SW_PROTO_BAD_DUP,       /* field: name repeated in the line */
  SW_PROTO_BAD_KINDS
} SwProtoBad;

typedef struct SwProtoStats {
  uint64_t lines;                      /* every line seen, blank and bad included */
  uint64_t good_lines;                 /* lines parsed (their rows emitted) */
  uint64_t rows;                       /* rows emitted */
  uint64_t bad_lines;                  /* lines skipped whole */
  uint64_t bad[SW_PROTO_BAD_KINDS];    /* problems by kind */
} SwProtoStats;

typedef int (*SwProtoRowFn)(void *ctx, const char *name, int64_t step, double value);
typedef struct SwProto SwProto;

/* A parser calling ROW(CTX, ...) for each row. TR_ENOMEM when out of memory. */
int sw_proto_new(SwProto **out, SwProtoRowFn row, void *ctx, TrErr *err);
void sw_proto_free(SwProto *p);
/* Feed N bytes. 0, or the first non-zero ROW return. */
int sw_proto_feed(SwProto *p, const char *buf, size_t n, TrErr *err);
/* End of stream: parse a last unterminated line. 0, or ROW's non-zero return. */
int sw_proto_finish(SwProto *p, TrErr *err);
const SwProtoStats *sw_proto_stats(const SwProto *p);
/* Kept messages: count (<= SW_PROTO_KEEP) and the i-th, "line 12: not JSON: ...". */
size_t sw_proto_message_count(const SwProto *p);
const char *sw_proto_message(const SwProto *p, size_t i);
/* The step the next line without "step" gets. */
int64_t sw_proto_next_step(const SwProto *p);
/* "not JSON", "not an object", ... for a SwProtoBad. */
const char *sw_proto_bad_name(int kind);

#endif
