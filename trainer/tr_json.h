/*
** tr_json.h: JSON text for every layer: string literals and numbers. The config's
** canonical JSON (and so every config hash), run summaries and `hpsweep results`
** exports are all written with these.
**
** Contract:
** - tr_json_quote writes S as a JSON string literal, quotes included, snprintf
**   style: at most N bytes with a NUL, returns the length it needs (without the
**   NUL). tr_json_quote_write writes the same text to F (0, or EOF on a write
**   error). S NULL is "". '"' and '\' are backslash-escaped; every other byte
**   below 0x20 is \u00XX, or with TR_JSON_SHORT \n, \r and \t stay two-character
**   escapes. The default form is canonical: config hashes are taken over it, so
**   it must never change. Bytes >= 0x20 (UTF-8, DEL, invalid UTF-8 alike) are
**   copied unchanged: the text is the caller's, this only quotes it.
** - tr_fmt_double writes V with DIGITS significant digits ("%.DIGITSg"), or with
**   TR_FMT_SHORTEST the shortest of 15, 16 and 17 digits that strtod reads back
**   to exactly V (finite V always round-trips; 17 digits always do). snprintf
**   style. Non-finite V prints as printf does ("inf", "nan").
** - tr_json_number is tr_fmt_double, but "null" for NaN and infinities (JSON has
**   no such numbers).
*/
#ifndef TR_JSON_H
#define TR_JSON_H

#include <stddef.h>
#include <stdio.h>

enum { TR_JSON_SHORT = 1 };  /* tr_json_quote flag: \n \r \t, not \u000a ... */
enum { TR_FMT_SHORTEST = 0 }; /* tr_fmt_double digits: shortest exact text */

size_t tr_json_quote(char *buf, size_t n, const char *s, int flags);
int tr_json_quote_write(FILE *f, const char *s, int flags);
int tr_fmt_double(char *buf, size_t n, double v, int digits);
int tr_json_number(char *buf, size_t n, double v, int digits);

#endif
