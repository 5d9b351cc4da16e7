"""The site builder: ``content/`` + ``templates/`` + ``static/`` -> a folder of static files.

One module per step, data flowing one way:

    content   content/**/*.md -> Page objects (front matter, URLs)
    markup    Markdown + shortcodes -> HTML
    render    Jinja2 templates -> full HTML documents (Rewardful snippet enforced)
    extras    sitemap.xml, robots.txt, Atom feed
    linkcheck broken internal links and fragments, by source line
    publish   changed files written aside, renamed into place when the whole build worked
    builder   the pipeline that ties the steps together

and around the steps, which know nothing of it, the cache layer:

    cache     what a build may reuse: one record of what each output was made from
    keys      every ingredient of every cache key (code and library versions included)
    hashing   the one hash every key is made with
    compiled  templates compiled once, each knowing what it reads (in Jinja's bytecode cache)
    context   BuildContext: what the caller keeps between builds (no module state)
    store     the cache file (SQLite), read per entry
    workers   jobs over worker processes, with any start method
"""
