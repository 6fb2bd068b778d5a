def test_sign_up_and_read_me(client, auth):
    account = auth.sign_up()
    response = client.get("/users/me", headers=account.headers)
    assert response.status_code == 200
    assert response.json["email"] == account.email
