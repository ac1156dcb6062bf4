// An empty Python module so `import torch_local_rnn._C` loads this library and runs its static
// TORCH_LIBRARY initialisers; no pybind11, so the build stays Py_LIMITED_API-safe.
#ifdef WITH_PYTHON
#include <Python.h>

extern "C" PyObject* PyInit__C(void) {
  static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module);
}
#endif
