"""launchkit: a marketing-site generator with a Rewardful-attributed Stripe checkout.

One module per step, data flowing one way:

    config   site.toml -> validated SiteConfig (site, Rewardful, checkout, catalogue)
    content  content/**/*.md -> Page objects (front matter, URLs)
    markup   Markdown + shortcodes -> HTML
    render   Jinja2 templates -> full HTML documents (Rewardful snippet enforced)
    extras   sitemap.xml, robots.txt, Atom feed
    publish  write into a temporary folder, then swap it into place
    build    the pipeline that ties the steps together
    checkout form POST -> Stripe Checkout Session parameters -> Stripe
"""
