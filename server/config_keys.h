/* The one table of config keys (config_keys.c): each key's name, type, place in
 * wf_config_t, default, limits and documentation. config.c walks it to parse and
 * check a file and to print the reference in docs/config.md. */
#ifndef WF_CONFIG_KEYS_H
#define WF_CONFIG_KEYS_H

#include <stddef.h>
#include <stdint.h>

typedef enum wf_key_type {
	WF_KEY_INT,     /* int, within [min, max] */
	WF_KEY_SIZE,    /* int64_t bytes: an integer, or a string "512K", "10M", "2G" */
	WF_KEY_BOOL,    /* bool */
	WF_KEY_STRING,  /* char *, optionally one of choices */
	WF_KEY_STRLIST, /* char ** with a size_t count at count_offset */
	WF_KEY_GROUP,   /* an embedded struct described by sub */
	WF_KEY_LIST,    /* a list of groups: pointer to array at offset, size_t count at count_offset */
} wf_key_type_t;

typedef struct wf_section wf_section_t;

typedef struct wf_key {
	const char *name;
	wf_key_type_t type;
	size_t offset;
	size_t count_offset;
	const char *def; /* default, as the docs show it; NULL = required (scalars) or empty */
	int64_t min, max;
	const char *const *choices; /* NULL-terminated, for strings and string lists */
	const wf_section_t *sub;
	const char *doc;
	/* Strings: NULL when the value is fine, else what is wrong with it,
	 * said without the value (it may be a secret). NULL: no check. */
	const char *(*check)(const char *value);
	/* A list item's key that applies to some kinds of item only: the
	 * values of the item's `type` it may be set with (NULL-terminated).
	 * Set with another, it is refused, not ignored. NULL: every type. */
	const char *const *only_types;
} wf_key_t;

struct wf_section {
	const char *name; /* for messages and docs: "limits", "services[]" */
	const wf_key_t *keys;
	size_t nkeys;
	size_t item_size;   /* for list items */
	long line_offset;   /* offset of a wf_config_at_t field in an item, or -1 */
	const char *doc;
};

extern const wf_section_t wf_config_root;

#endif
