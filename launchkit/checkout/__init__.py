"""The checkout: a buy form POST -> a Rewardful-attributed Stripe Checkout Session -> 303.

params      form fields + catalogue -> Checkout Session parameters (pure)
stripe_api  the Stripe client from the environment, the call, its failures
app         the Bottle app: reads the form, answers with a redirect or a friendly page
"""
