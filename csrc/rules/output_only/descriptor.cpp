// The descriptor of the output-weights-only floor (docs/algorithms.md §3.1): no options, no state.
#include "../rule_helpers.h"

namespace torch_local_rnn {
namespace {

using namespace rules;

const bool registered =
    register_rule({.name = "output_only", .counts = {0}, .make = &no_options, .reads_tensors = false});

}  // namespace
}  // namespace torch_local_rnn
