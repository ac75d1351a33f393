/* From what a user typed (--model NAME, a catalogue path) to a directory: a path stays a path,
 * a Hub id goes through the cache and, when allowed, a download. */
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "hub/hub.h"

enum sy_status hub_resolve_model(const char *name, bool allow_download, struct sy_error *err,
                                 char **dir_out)
{
	*dir_out = NULL;
	/* Only "org/name": single names are ambiguous with built-in ids such as use-lite (pull
	 * those explicitly with `switchyard models pull NAME`). */
	if (!name || sy_path_exists(name) || !strchr(name, '/') || !hub_id_valid(name))
		return SY_OK;
	struct hub_options o;
	hub_options_from_env(&o);
	enum sy_status s = hub_cache_resolve(&o, name, err, dir_out);
	if (s != SY_ERR_NOT_FOUND || !allow_download || o.offline)
		return s;
	return hub_pull(&o, name, err, dir_out);
}
