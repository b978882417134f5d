/* linalg.h — the small dense linear algebra the probes (and later the
 * converter's indexer initialisation) need and a CPU BLAS does not give:
 * the eigendecomposition of a small symmetric matrix (a head's d x d
 * covariance, d <= 256). */
#ifndef PURBO_LINALG_H
#define PURBO_LINALG_H

/* Eigenvalues and eigenvectors of the symmetric matrix a (n, n), row-major,
 * by cyclic Jacobi rotations (accurate to rounding; O(n^3) per sweep, a few
 * sweeps). a is destroyed. w (n) gets the eigenvalues in descending order;
 * v (n, n) the eigenvectors as columns: v[r*n + i] is row r of vector i. */
void sym_eig(double *a, int n, double *w, double *v);

#endif
