#ifndef CARCHIVE_SHIM_H
#define CARCHIVE_SHIM_H
#include <archive.h>
#include <archive_entry.h>
// AE_IFREG / AE_IFDIR are cast macros that Swift does not import.
static const unsigned int carchive_AE_IFREG = AE_IFREG;
static const unsigned int carchive_AE_IFDIR = AE_IFDIR;
#endif
