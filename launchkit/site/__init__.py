"""The site builder: ``content/`` + ``templates/`` + ``static/`` -> a folder of static files.

One module per step, data flowing one way:

    content   content/**/*.md -> Page objects (front matter, URLs)
    markup    Markdown + shortcodes -> HTML
    render    Jinja2 templates -> full HTML documents (Rewardful snippet enforced)
    extras    sitemap.xml, robots.txt, Atom feed
    linkcheck broken internal links and fragments, by source line
    publish   changed files written aside, renamed into place when the whole build worked
    cache     what the next build may reuse
    builder   the pipeline that ties the steps together
"""
