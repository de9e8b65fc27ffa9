#include <dnnl.h>
#include <dnnl_debug.h>
