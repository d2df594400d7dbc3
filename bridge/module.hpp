// The _lancet module's contents, shared by the extension module (ext.cpp) and the embedding
// binary (embed_main.cpp).
//
// Layer: bridge/.
#pragma once

#include <Python.h>
#include <pybind11/pybind11.h>

namespace lancet::bridge {

/// Adds everything to `m`: backend_name(), version(), Server, LifespanCycle,
/// ClientDisconnected.
void define_module(pybind11::module_& m);

/// Module init for the embedding binary, registered as "lancet._lancet" (a new reference, or
/// null with a Python error set).
PyObject* init_embedded_module();

}  // namespace lancet::bridge
