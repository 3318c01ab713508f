// Package datasets generates, saves and loads the sequence-classification data
// the experiments train on: the paper's tokenized mixture, and users' own
// arrays in NumPy's .npy format.
//
// # The tokenized mixture
//
// A sample is a sequence X in R^{T x d} of T tokens (rows) and a label
// y in {-1, +1}, drawn uniformly. There are two signal means, mu_+ = S e_1 and
// mu_- = S e_2 (orthogonal; MixtureConfig.Antipodal makes mu_- = -mu_+), and
// M noise centres nu_j = Z e_{2+j}, j = 1..M, so d >= M + 2. Each sequence has
// r = round(zeta T) >= 1 relevant tokens at uniformly random distinct positions,
// with x_t = mu_y + sigma g_t; every other token is x_t = nu_j + sigma g_t with
// j uniform in 1..M, drawn afresh per token. The g_t are independent standard
// normal vectors in R^d. Only the relevant tokens carry the label, which is
// why attention must learn to select them: the average token of a sequence
// sees mu_y with weight only zeta.
//
// # Decoys
//
// MixtureConfig.Decoy = D > 0 adds a decoy signal D mu_s to every noise token,
// with s uniform on {-1, +1} independently of y and of everything else. The
// mean token then carries the label only through r relevant tokens against
// T - r random decoy signs (a linear classifier on it errs often), while
// relevant tokens still differ from noise tokens by their missing noise-centre
// component, so attention that selects them separates the data. D = 0 (the
// default) is the paper's model, byte for byte.
//
// # Layout
//
// A Dataset stores N sequences as flat float64 slices in C order, the layout
// numpy uses for an array of shape [N, T, d]:
//
//	X[(i*T+t)*d+k]   coordinate k of token t of sequence i
//	Y[i]             label of sequence i, -1 or +1
//	Mask[i*T+t]      token t of sequence i is relevant (nil when unknown)
//
// Axes are 0-based in code: e_1 is axis 0, e_2 axis 1, nu_j lies on axis 1+j.
//
// # Seeds and streams
//
// Every draw comes from math/rand/v2's PCG generator seeded with
// (MixtureConfig.Seed, stream). The training set uses stream 1 and the test
// set stream 2, so the two are independent and resizing one leaves the other
// unchanged. Within a stream, draws go sequence by sequence (see
// MixtureConfig.Sample for the exact order), which makes training sets nested
// in n, and lets S, Z, sigma and the antipodal switch vary over exactly the
// same labels, positions, clusters and Gaussian draws. The same config and
// seed give the same bytes on every run and machine; a golden test pins a
// checksum so a change in the generator or in math/rand/v2 cannot go unnoticed.
//
// # Files
//
// Save writes one directory:
//
//	train_X.npy     (n, T, d)       float64 '<f8'
//	train_y.npy     (n,)            float64, values -1 or +1
//	train_mask.npy  (n, T)          bool '|b1' (omitted when Mask is nil)
//	test_X.npy, test_y.npy, test_mask.npy   likewise for the test split
//	dataset.json    {"format": "mha-dataset", "version": 1,
//	                 "generator": {MixtureConfig, when known}, "relevant": r,
//	                 "arrays": {file name: shape}}
//
// so numpy.load reads every array directly. Load checks each file against the
// shapes dataset.json records. LoadXY reads a user's own X (n, T, d), in any
// numeric dtype package npy supports, and y (n,) with values in {-1, +1};
// labels in {0, 1} are refused with a hint rather than silently remapped.
// Loading never panics: every malformed file gives an error naming the file
// and what is wrong with it.
package datasets
