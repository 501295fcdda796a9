"""An agency's account on one messenger (its bot). Platform adapters live in civdesk.channels."""
