/* Weights of a model directory in either format; see weights.h. */
#include "model/formats/weights.h"

#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "model/formats/torch_ckpt.h"

enum sy_status model_weights_open(const char *dir, struct sy_error *err, struct safetensors **out,
                                  const char **file)
{
	*out = NULL;
	static const char *const names[] = {"model.safetensors", "pytorch_model.bin"};
	for (int i = 0; i < 2; i++) {
		char *path = sy_path_join(dir, names[i]);
		if (!path)
			return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
		if (!sy_path_exists(path)) {
			free(path);
			continue;
		}
		if (file)
			*file = names[i];
		enum sy_status s =
		    i == 0 ? safetensors_open(path, err, out) : torch_ckpt_open(path, err, out);
		free(path);
		return s;
	}
	return sy_error_set(err, SY_ERR_UNSUPPORTED,
	                    "%s: neither model.safetensors nor pytorch_model.bin (sharded "
	                    "checkpoints are not supported yet)",
	                    dir);
}

enum sy_status model_weights_open_file(const char *dir, const char *name, struct sy_error *err,
                                       struct safetensors **out)
{
	*out = NULL;
	char *path = sy_path_join(dir, name);
	if (!path)
		return sy_error_set(err, SY_ERR_NOMEM, "out of memory");
	enum sy_status s;
	const size_t n = strlen(name), ext = strlen(".safetensors");
	if (!sy_path_exists(path))
		s = sy_error_set(err, SY_ERR_NOT_FOUND, "%s: no such file", path);
	else if (n > ext && !strcmp(name + n - ext, ".safetensors"))
		s = safetensors_open(path, err, out);
	else
		s = torch_ckpt_open(path, err, out);
	free(path);
	return s;
}
