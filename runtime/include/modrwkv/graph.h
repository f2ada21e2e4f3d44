/*===- graph.h - run compiled ONNX graphs (encoders) ---------------------===*
 *
 * An artifact compiled from an ONNX model (ABI "graph-v1") holds one entry
 * point per graph,
 *
 *   void modrwkv_graph_<symbol>(void **descriptors)
 *
 * taking the memref descriptors of [weights,] inputs..., outputs... in the
 * manifest's order. Shapes are static and listed in the manifest; buffers
 * are dense, row-major, in the listed element type. A "string" element is
 * a `char *` to a NUL-terminated string: the caller's, in inputs; in
 * outputs, one the graph allocated with malloc, which the caller frees.
 * Errors: -1 / NULL with modrwkv_last_error(), as in runtime.h.
 *
 *===----------------------------------------------------------------------===*/

#ifndef MODRWKV_GRAPH_H
#define MODRWKV_GRAPH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct modrwkv_graphs modrwkv_graphs;

typedef struct modrwkv_tensor_info {
  const char *name;
  const char *dtype; /* "float32", "int64", "bool", "string", ... (ONNX
                        names) */
  int64_t rank;
  const int64_t *shape;
  int64_t bytes; /* of a dense buffer */
} modrwkv_tensor_info;

modrwkv_graphs *modrwkv_graphs_load(const char *dir);
void modrwkv_graphs_free(modrwkv_graphs *graphs);
int64_t modrwkv_graphs_count(const modrwkv_graphs *graphs);
/* The index of the graph named `name`, or -1. */
int64_t modrwkv_graphs_find(const modrwkv_graphs *graphs, const char *name);
const char *modrwkv_graph_name(const modrwkv_graphs *graphs, int64_t graph);
int64_t modrwkv_graph_num_inputs(const modrwkv_graphs *graphs, int64_t graph);
int64_t modrwkv_graph_num_outputs(const modrwkv_graphs *graphs, int64_t graph);
int modrwkv_graph_input(const modrwkv_graphs *graphs, int64_t graph, int64_t i,
                        modrwkv_tensor_info *info);
int modrwkv_graph_output(const modrwkv_graphs *graphs, int64_t graph, int64_t i,
                         modrwkv_tensor_info *info);
/* Runs `graph`: inputs[i] / outputs[i] point at dense buffers of the listed
 * sizes. Thread-safe for distinct output buffers. */
int modrwkv_graph_run(const modrwkv_graphs *graphs, int64_t graph,
                      const void *const *inputs, void *const *outputs);

#ifdef __cplusplus
}
#endif

#endif /* MODRWKV_GRAPH_H */
