"""What people look at to check and correct identities: contact sheets and label templates."""
