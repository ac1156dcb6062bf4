// The descriptor of exact BPTT (docs/algorithms.md §1, §4.3 step 1): no options; sequence form only.
#include "../rule_helpers.h"

namespace torch_local_rnn {
namespace {

using namespace rules;

const bool registered = register_rule({.name = "bptt",
                                       .counts = {0},
                                       .no_online_form = "its credit needs the future of the stream; its online "
                                                         "truncations are f_bptt and e_bptt",
                                       .make = &no_options,
                                       .reads_tensors = false});

}  // namespace
}  // namespace torch_local_rnn
