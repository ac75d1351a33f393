/* One way for every model loader to get named tensors from a model directory, whichever format
 * it ships: model.safetensors (preferred when both exist) or a PyTorch zip checkpoint
 * pytorch_model.bin (read by torch_ckpt.c's restricted unpickler). Both give a struct
 * safetensors, closed with safetensors_close. */
#ifndef SY_MODEL_WEIGHTS_H
#define SY_MODEL_WEIGHTS_H

#include "base/status.h"
#include "model/formats/safetensors.h"

/* Opens dir's weights. *file (if file is not NULL) is set to the file name read. Fails with
 * SY_ERR_UNSUPPORTED naming both files when neither exists. */
enum sy_status model_weights_open(const char *dir, struct sy_error *err, struct safetensors **out,
                                  const char **file);

/* Opens one named weight file of dir: a .safetensors file, or else a PyTorch checkpoint
 * (torch.save's zip: pytorch_model.bin, BGE-M3's colbert_linear.pt). SY_ERR_NOT_FOUND when it is
 * absent. */
enum sy_status model_weights_open_file(const char *dir, const char *name, struct sy_error *err,
                                       struct safetensors **out);

#endif
