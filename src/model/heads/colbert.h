/* ColBERT (src/model/heads/colbert.c): a multi-vector encode task and a MaxSim score task. */
#ifndef SY_MODEL_COLBERT_H
#define SY_MODEL_COLBERT_H

/* MaxSim: the sum over the nq query vectors of the largest dot product with any of the nd
 * document vectors ([n][dims] each, row-major); 0 with no query vectors, and each query
 * vector adds 0 when the document has none. */
double colbert_maxsim(const float *q, int nq, const float *d, int nd, int dims);

#endif
