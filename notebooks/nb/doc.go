// Package nb is the one import of the project's notebooks: a small facade
// over datasets, layers, graph, theory and experiments, plus plot builders
// and text tables that return gonum/plot plots, PNG bytes and strings for
// a notebook to display inline.
//
// It exists because of how gophernotes imports code. Every import cell
// compiles a Go plugin holding the imported packages and everything they
// use, and values cross between plugins only through reflection, so a
// notebook works best with one import point:
//
//	import "./nb"
//
// A path starting with "./" is resolved against the kernel's working
// directory, which Jupyter sets to the notebook's folder; gophernotes then
// finds this module's go.mod above it and builds against this checkout
// through a replace directive. No machine path appears in a notebook.
//
// The rules for what lives here: plain functions, structs and type aliases;
// no generics in any signature (the interpreter cannot call them); no
// imports beyond this module and gonum. Things a user can get wrong (an out
// of range sequence index, a diverging run) are returned errors; a notebook
// cell turns them into a cell error with a one-line check. Computation stays
// in the library packages: a function here only wires them together or
// draws what they return.
//
// Plots are fixed at 16 x 10 cm, 96 dpi, which Jupyter shows at a readable
// width without scaling.
package nb
