// The extension module lancet._lancet (imported by the Python package).
#include "bridge/module.hpp"

PYBIND11_MODULE(_lancet, m) { lancet::bridge::define_module(m); }
