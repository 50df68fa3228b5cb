"""Hot reload: the kernel kept current while files change under it.

``watch`` (inotify/FSEvents events, debounced), ``registry`` (the last good version of every agent,
prompt and config), ``follow`` (a run follows edits of its own agent), ``root`` (a kernel kept live
by a watcher), ``shell`` (``llmos shell``).

Layer: spine, beside the kernel. May import everything below it, including the assembled config.
"""
