/* Labelled data for training and evaluating routers (`switchyard router train`, `switchyard eval
 * intents|routellm`, docs/ROUTING.md), read from the formats those datasets ship in:
 *
 *   CSV       a header line, then `text,label` rows (RFC 4180 quoting: a quoted field may hold
 *             commas, newlines and quotes doubled as ""; CRLF or LF line ends); BANKING77's
 *             train.csv is one;
 *   JSONL     one {"text": "...", "label": "..." or number} object per line;
 *   CLINC150  data_train_val.json: lists of [text, label] named train, oos_train, val, oos_val;
 *   RouteLLM  correctness tables `prompt,<weak correct>,<strong correct>` (booleans as
 *             True/true/1) under mmlu/mmlu_*.csv and gsm8k/gsm8k_responses.csv.
 *
 * Malformed input fails with SY_ERR_FORMAT and a message naming the file and line ("x.csv: line
 * 2: unterminated quoted field"). Every string a dataset holds is its own copy. */
#ifndef SY_ROUTER_DATASET_H
#define SY_ROUTER_DATASET_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"

struct dataset {
	char **text; /* [n] */
	char **label; /* [n]; "" for RouteLLM rows */
	bool *weak_ok, *strong_ok; /* [n] RouteLLM: did the weak / strong model answer right */
	int n, cap;
};

/* Frees every example and zeroes d (a zeroed dataset is empty and valid). */
void dataset_free(struct dataset *d);
/* Appends a copy of text[0..text_len) with its label (NULL: "") and correctness flags. */
enum sy_status dataset_push(struct dataset *d, const char *text, size_t text_len, const char *label,
                            bool weak_ok, bool strong_ok);
/* Keeps the first n examples (frees the rest). */
void dataset_truncate(struct dataset *d, int n);

/* ---- CSV ---- */

/* Called once per row (the header too) with its fields (NUL-terminated, in the parsed text)
 * and the line the row starts on; a non-SY_OK return stops the parse with that status. */
typedef enum sy_status (*dataset_csv_row_fn)(char **fields, int n_fields, int line, void *ctx,
                                             struct sy_error *err);

/* Splits text[0..len) into rows of fields, in place (unquoting rewrites the text); `name` is
 * the file named in errors. Blank lines are skipped; fields past the 16th are dropped. Fails
 * on an unterminated quoted field. */
enum sy_status dataset_csv_parse(char *text, size_t len, const char *name, dataset_csv_row_fn row,
                                 void *ctx, struct sy_error *err);

/* ---- loaders ---- */

/* Labelled examples from text named `name`: JSONL when the name ends in ".jsonl", else CSV
 * with a header and text,label columns. Appends to out. Parses in place. */
enum sy_status dataset_labelled_parse(const char *name, char *text, size_t len,
                                      struct sy_error *err, struct dataset *out);
/* dataset_labelled_parse of a file; fails too when it holds no example. */
enum sy_status dataset_read_labelled(const char *path, struct sy_error *err, struct dataset *out);

/* RouteLLM rows (prompt, weak correct, strong correct, with a header) from CSV text; appends
 * to out. Parses in place. */
enum sy_status dataset_routellm_parse(const char *name, char *text, size_t len,
                                      struct sy_error *err, struct dataset *out);
/* RouteLLM's tables under dir: every mmlu/mmlu_*.csv (in name order) into mmlu, and
 * gsm8k/gsm8k_responses.csv into gsm8k. */
enum sy_status dataset_read_routellm(const char *dir, struct sy_error *err, struct dataset *mmlu,
                                     struct dataset *gsm8k);
/* RouteLLM's usual split of the MMLU rows: 3 of every 5 to train, the 4th to calibrate the
 * threshold, the 5th to test. Appends to the three. */
enum sy_status dataset_routellm_split(const struct dataset *mmlu, struct sy_error *err,
                                      struct dataset *train, struct dataset *calibrate,
                                      struct dataset *test);

/* CLINC150's dir/data_train_val.json: train and oos_train into train, val and oos_val into
 * test (out-of-scope examples are labelled "oos"). */
enum sy_status dataset_read_clinc(const char *dir, struct sy_error *err, struct dataset *train,
                                  struct dataset *test);

/* The same, but with test_path (or NULL) the test set is that file instead of val + oos_val:
 * CLINC150's JSON format (an object with "test" and optionally "oos_test", as data_full.json)
 * or a labelled CSV/JSONL file. A missing file, one that does not parse, or one without test
 * examples is an error. */
enum sy_status dataset_read_clinc_test(const char *dir, const char *test_path, struct sy_error *err,
                                       struct dataset *train, struct dataset *test);

/* An intent dataset for `eval intents`: a CLINC150 folder (*clinc set: train + oos_train, tested
 * on val + oos_val or on test_path as dataset_read_clinc_test reads it), or a labelled file or a
 * folder with train.csv (BANKING77) whose every 5th example is held out for test, unless
 * test_path (or NULL) names the test file. */
enum sy_status dataset_read_intents(const char *data, const char *test_path, struct sy_error *err,
                                    struct dataset *train, struct dataset *test, bool *clinc);

/* ---- labels ---- */

/* Class ids [d->n] (caller frees) for the labels, looked up in (*labels)[*n_labels]. With grow,
 * a new label is appended (first-seen order); without, it gets id -1. NULL when out of memory. */
int *dataset_label_ids(const struct dataset *d, char ***labels, int *n_labels, bool grow);
/* Relabels a strong/weak training set: "1" (the weak model's answer is good enough) becomes
 * "weak", "0" "strong"; any other label fails, naming the example. */
enum sy_status dataset_strong_weak_labels(struct dataset *d, const char *name,
                                          struct sy_error *err);

#endif
