/* The option table of a `switchyard` command: one table drives getopt_long, the --help text and
 * the SWITCHYARD_<OPTION> environment names, so the three cannot drift apart.
 *
 * Every command accepts "--opt value" and "--opt=value" (a switch takes no value; an optional
 * value only as "--opt=value"), positional arguments anywhere ("--" ends the options), and the
 * options every command shares: --help (-h), --version and --spin-us N. Names must be given in
 * full: an abbreviation is an unknown option. */
#ifndef SY_CLI_OPTS_H
#define SY_CLI_OPTS_H

#include <stdbool.h>
#include <stdio.h>

enum cli_arg {
	CLI_SWITCH, /* --opt */
	CLI_VALUE, /* --opt V or --opt=V */
	CLI_OPTIONAL, /* --opt or --opt=V */
};

struct cli_opt {
	const char *name; /* without the leading "--" */
	enum cli_arg arg;
	const char *meta; /* the value in the help ("N", "FILE"); NULL for a switch */
	const char *help; /* '\n' starts a continuation line */
	int id; /* what the command's apply function tells options apart by */
	unsigned scope; /* the variants of the command that take it (bit mask; 0: all) */
	bool env; /* also read from SWITCHYARD_<NAME> (upper case, '-' as '_') by cli_opts_env */
	const char *env_also; /* a second variable, read when the first is unset ("PORT") */
};

struct cli_cmd {
	const char *name; /* in messages: "encode", "eval sts" */
	const char *synopsis; /* the usage lines, printed before the options */
	const char *about; /* printed after the options; may be NULL */
	const struct cli_opt *opts;
	int n_opts;
	unsigned scope; /* the variant being run: options whose scope misses it do not exist */
};

/* Applies one option; val is NULL for a switch or an optional value not given. Returns 0, or -1
 * after printing why the value is bad. */
typedef int (*cli_apply_fn)(void *ctx, const struct cli_opt *o, const char *val);

/* Parses argv[1..argc) (argv[0] is the command's name) with getopt_long, calling apply for each
 * option in command-line order. argv is permuted so that the positional arguments end up, in
 * their order, at argv[*first_arg..argc). Returns 0, 1 when --help or --version was printed
 * (exit 0), or 2 after a usage message on stderr (unknown option, missing value, bad value). May
 * be called again on the same argv. */
int cli_opts_parse(const struct cli_cmd *c, int argc, char **argv, cli_apply_fn apply, void *ctx,
                   int *first_arg);

/* Applies the environment's value of every option in scope marked env. Returns 0, or -1 after a
 * message naming the variable. */
int cli_opts_env(const struct cli_cmd *c, cli_apply_fn apply, void *ctx);

/* Writes SWITCHYARD_<NAME> for o into buf (size n). */
void cli_opt_env_name(const struct cli_opt *o, char *buf, size_t n);

/* The --help text: synopsis, the options in scope, the shared options, about. */
void cli_opts_usage(const struct cli_cmd *c, FILE *f);

/* A usage error: "switchyard NAME: " and the message on stderr, then where the help is.
 * Returns 2. */
int cli_usage_error(const struct cli_cmd *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* An integer option's value, from min to 2^20, into *out. Returns 0, or -1 after a message. */
int cli_int_arg(const char *cmd, const struct cli_opt *o, const char *val, int min, int *out);

/* A number option's value, from min to max (inclusive when closed), into *out. Returns 0, or
 * -1 after a message. */
int cli_double_arg(const char *cmd, const struct cli_opt *o, const char *val, double min,
                   double max, bool closed, double *out);

/* For a command with subcommands (models, eval, router): when arg, the word after the command,
 * is an option rather than a subcommand, answers it (--help or -h prints usage on stdout,
 * --version the version, anything else is an unknown option) and returns the exit status;
 * returns -1 when arg is a subcommand. */
int cli_group_option(const char *name, const char *arg, const char *usage);

/* `--version`: "switchyard VERSION (kernels: ISA)" on stdout. */
void cli_version_print(void);

#endif
