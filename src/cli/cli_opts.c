/* Option parsing for every `switchyard` command (see cli_opts.h): the command's table becomes a
 * getopt_long array, followed by the options all commands share. getopt_long does the walking
 * ("--opt=value", "--opt value", permuted positional arguments, "--"); this file adds the
 * messages, refuses abbreviations (getopt_long accepts any unique prefix, which would make a
 * typo silently mean another option) and prints the help from the same table. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "switchyard.h"
#include "base/threads.h"
#include "cli/cli_opts.h"
#include "tensor/attention.h"
#include "tensor/isa.h"

/* getopt_long's val for the shared options; a table entry i gets OPT_BASE + i. */
enum { OPT_HELP = 'h', OPT_VERSION = 1000, OPT_SPIN_US, OPT_BASE = 2000 };

static const struct cli_opt shared_opts[] = {
    {"spin-us", CLI_VALUE, "N",
     "how long idle worker threads spin for the next request before they\n"
     "sleep, in microseconds (or SWITCHYARD_SPIN_US)",
     .env = false},
    {"help", CLI_SWITCH, NULL, "this text (also -h)", .env = false},
    {"version", CLI_SWITCH, NULL, "the version and the kernels this CPU runs", .env = false},
};
static const int shared_vals[] = {OPT_SPIN_US, OPT_HELP, OPT_VERSION};
#define N_SHARED ((int)(sizeof shared_opts / sizeof *shared_opts))

static bool in_scope(const struct cli_cmd *c, const struct cli_opt *o)
{
	return !o->scope || (o->scope & c->scope);
}

static int has_arg_of(enum cli_arg a)
{
	return a == CLI_VALUE      ? required_argument
	       : a == CLI_OPTIONAL ? optional_argument
	                           : no_argument;
}

void cli_version_print(void)
{
	printf("switchyard %s (kernels: %s%s)\n", SY_VERSION_STRING, sy_isa_name(sy_isa_current()),
	       attention_bf16_active() ? ", bf16 attention for int8 models" : "");
}

int cli_usage_error(const struct cli_cmd *c, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "switchyard %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(`switchyard %s --help` lists the options)\n", c->name);
	return 2;
}

static void usage_line(FILE *f, const struct cli_opt *o)
{
	char left[64];
	if (o->arg == CLI_SWITCH)
		snprintf(left, sizeof left, "--%s", o->name);
	else if (o->arg == CLI_OPTIONAL)
		snprintf(left, sizeof left, "--%s[=%s]", o->name, o->meta);
	else
		snprintf(left, sizeof left, "--%s %s", o->name, o->meta);
	if (strlen(left) > 24)
		fprintf(f, "  %s\n%27s", left, ""); /* too long to share a line with its help */
	else
		fprintf(f, "  %-24s ", left);
	for (const char *h = o->help; *h; h++) {
		fputc(*h, f);
		if (*h == '\n')
			fprintf(f, "%27s", "");
	}
	fputc('\n', f);
}

void cli_opts_usage(const struct cli_cmd *c, FILE *f)
{
	fputs(c->synopsis, f);
	fputs("options:\n", f);
	for (int i = 0; i < c->n_opts; i++)
		if (in_scope(c, &c->opts[i]))
			usage_line(f, &c->opts[i]);
	for (int i = 0; i < N_SHARED; i++)
		usage_line(f, &shared_opts[i]);
	if (c->about)
		fputs(c->about, f);
}

/* The argv element that held the option getopt_long just returned (its value, if any, may
 * have been the next element). */
static const char *option_element(char **argv, int ind)
{
	const char *last = argv[ind - 1];
	return optarg && optarg == last && ind >= 2 ? argv[ind - 2] : last;
}

/* Whether element ("--name" or "--name=...") spells name in full. */
static bool spelled_out(const char *element, const char *name)
{
	size_t n = strlen(name);
	return !strncmp(element, "--", 2) && !strncmp(element + 2, name, n) &&
	       (element[2 + n] == '\0' || element[2 + n] == '=');
}

/* "--name" of an element, without any "=value", into buf. */
static const char *flag_of(const char *element, char *buf, size_t n)
{
	const char *eq = strchr(element, '=');
	snprintf(buf, n, "%.*s", eq ? (int)(eq - element) : (int)strlen(element), element);
	return buf;
}

static int set_spin_us(const struct cli_cmd *c, const char *v)
{
	long us;
	if (sy_spin_us_parse(v, &us) != 0)
		return cli_usage_error(c,
		                       "--spin-us %.40s: not a number of microseconds in [0, %ld]",
		                       v, SY_POOL_SPIN_US_MAX);
	sy_pool_set_spin_us(us);
	return 0;
}

/* The long name of getopt_long's val (a table entry or a shared option). */
static const char *long_name(const struct cli_cmd *c, int val)
{
	if (val >= OPT_BASE && val < OPT_BASE + c->n_opts)
		return c->opts[val - OPT_BASE].name;
	for (int i = 0; i < N_SHARED; i++)
		if (shared_vals[i] == val)
			return shared_opts[i].name;
	return "";
}

int cli_opts_parse(const struct cli_cmd *c, int argc, char **argv, cli_apply_fn apply, void *ctx,
                   int *first_arg)
{
	struct option *lo = calloc((size_t)(c->n_opts + N_SHARED + 1), sizeof *lo);
	if (!lo) {
		fprintf(stderr, "switchyard %s: out of memory\n", c->name);
		return 2;
	}
	int n = 0;
	for (int i = 0; i < c->n_opts; i++)
		if (in_scope(c, &c->opts[i]))
			lo[n++] = (struct option){c->opts[i].name, has_arg_of(c->opts[i].arg), NULL,
			                          OPT_BASE + i};
	for (int i = 0; i < N_SHARED; i++)
		lo[n++] = (struct option){shared_opts[i].name, has_arg_of(shared_opts[i].arg), NULL,
		                          shared_vals[i]};
	int rc = 0, ch;
	char flag[64];
	optind = 0; /* a full reset, so a second parse of the same argv starts afresh */
	opterr = 0;
	while (rc == 0 && (ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		const char *el = argv[optind - 1], *name = long_name(c, ch);
		if (ch == '?' && optopt >= OPT_BASE)
			rc = cli_usage_error(c, "option '--%s' takes no value",
			                     long_name(c, optopt));
		else if (ch == '?' && optopt == 0)
			rc = cli_usage_error(c, "unknown option '%s'",
			                     flag_of(el, flag, sizeof flag));
		else if (ch == '?')
			rc = cli_usage_error(c, "unknown option '-%c'", optopt);
		else if (ch == ':') /* only long options take values */
			rc = cli_usage_error(c, "option '%s' needs a value",
			                     flag_of(el, flag, sizeof flag));
		else if ((el = option_element(argv, optind))[1] == '-' && !spelled_out(el, name))
			rc = cli_usage_error(c, "unknown option '%s'",
			                     flag_of(el, flag, sizeof flag));
		else if (ch >= OPT_BASE)
			rc = apply(ctx, &c->opts[ch - OPT_BASE], optarg) != 0 ? 2 : 0;
		else if (ch == OPT_HELP) {
			cli_opts_usage(c, stdout);
			rc = 1;
		} else if (ch == OPT_VERSION) {
			cli_version_print();
			rc = 1;
		} else if (ch == OPT_SPIN_US)
			rc = set_spin_us(c, optarg);
	}
	free(lo);
	*first_arg = optind;
	return rc;
}

void cli_opt_env_name(const struct cli_opt *o, char *buf, size_t n)
{
	size_t k = (size_t)snprintf(buf, n, "SWITCHYARD_");
	for (const char *f = o->name; *f && k + 1 < n; f++)
		buf[k++] = *f == '-' ? '_' : (char)(*f >= 'a' && *f <= 'z' ? *f - 32 : *f);
	buf[k < n ? k : n - 1] = '\0';
}

int cli_opts_env(const struct cli_cmd *c, cli_apply_fn apply, void *ctx)
{
	for (int i = 0; i < c->n_opts; i++) {
		const struct cli_opt *o = &c->opts[i];
		if (!o->env || !in_scope(c, o))
			continue;
		char name[64];
		cli_opt_env_name(o, name, sizeof name);
		const char *var = name, *v = getenv(name);
		if ((!v || !v[0]) && o->env_also) {
			var = o->env_also;
			v = getenv(var);
		}
		if (!v || !v[0])
			continue;
		if (apply(ctx, o, v) != 0) {
			fprintf(stderr, "switchyard %s: (from the environment, %s)\n", c->name,
			        var);
			return -1;
		}
	}
	return 0;
}

int cli_int_arg(const char *cmd, const struct cli_opt *o, const char *val, int min, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(val, &end, 10);
	if (errno || end == val || *end || v < min || v > 1L << 20) {
		fprintf(stderr, "switchyard %s: --%s needs an integer from %d to %ld, got '%s'\n",
		        cmd, o->name, min, 1L << 20, val);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int cli_double_arg(const char *cmd, const struct cli_opt *o, const char *val, double min,
                   double max, bool closed, double *out)
{
	char *end;
	double v = strtod(val, &end);
	if (end == val || *end || !(closed ? v >= min && v <= max : v > min && v < max)) {
		fprintf(stderr, "switchyard %s: --%s must be in %c%g, %g%c, got '%s'\n", cmd,
		        o->name, closed ? '[' : '(', min, max, closed ? ']' : ')', val);
		return -1;
	}
	*out = v;
	return 0;
}

int cli_group_option(const char *name, const char *arg, const char *usage)
{
	if (arg[0] != '-')
		return -1;
	if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(arg, "--version")) {
		cli_version_print();
		return 0;
	}
	char flag[64];
	fprintf(stderr, "switchyard %s: unknown option '%s'\n%s", name,
	        flag_of(arg, flag, sizeof flag), usage);
	return 2;
}
