"""launchkit: a marketing-site generator with a Rewardful-attributed Stripe checkout.

Two parts that share only the config and the error type:

    config    site.toml -> validated SiteConfig (site, Rewardful, checkout, catalogue)
    errors    SiteError: a message with its source position (path:line) and a hint
    site/     the static-site builder (python build.py)
    checkout/ the checkout server's app (checkout_server.py)
    preview   python build.py --serve: the builder and the checkout app on one local server
"""
